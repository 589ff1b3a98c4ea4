import DequeModule
import Scheduling
import Synchronization

/// Gathers run outcomes recorded at about the same time into batches for
/// ``CommandService/executeBatch(_:)``: in a burst, a hundred thousand outcomes cost a few
/// hundred group commits and store hops instead of one each.
///
/// The first outcome to arrive while no batch is being recorded starts a drain, which records
/// what has gathered, up to `maxBatch` at a time, until nothing is left. An outcome that
/// arrives during a batch waits for the next one, so batches grow with the load and a lone
/// outcome is recorded at once. A batch waits while the scheduler is claiming (``ClaimsFirst``).
final class OutcomeBatcher: Sendable {
    private struct Waiting {
        let command: TaskCommand
        let done: CheckedContinuation<CommandService.BatchResult, Never>
    }

    private let commands: CommandService
    private let claimsFirst: ClaimsFirst
    private let maxBatch: Int
    private let state = Mutex<(queue: Deque<Waiting>, draining: Bool)>(([], false))

    init(commands: CommandService, claimsFirst: ClaimsFirst, maxBatch: Int = 4096) {
        self.commands = commands
        self.claimsFirst = claimsFirst
        self.maxBatch = max(1, maxBatch)
    }

    /// Records `command` in the next batch; returns how it ended there.
    func record(_ command: TaskCommand) async -> CommandService.BatchResult {
        await withCheckedContinuation { continuation in
            let start = state.withLock { state in
                state.queue.append(Waiting(command: command, done: continuation))
                if state.draining { return false }
                state.draining = true
                return true
            }
            // The drain is not part of any caller's work: it ends when the queue is empty, and
            // the outcomes it records are awaited by their own callers.
            if start { Task { await self.drain() } }
        }
    }

    private func drain() async {
        while true {
            // Claims in progress go first; what arrives meanwhile joins this batch.
            await claimsFirst.waitForClaims()
            let batch = state.withLock { state -> [Waiting] in
                let count = min(state.queue.count, maxBatch)
                let batch = Array(state.queue.prefix(count))
                state.queue.removeFirst(count)
                if batch.isEmpty { state.draining = false }
                return batch
            }
            if batch.isEmpty { return }
            let results = await commands.executeBatch(batch.map(\.command))
            for (waiting, result) in zip(batch, results) { waiting.done.resume(returning: result) }
        }
    }
}
