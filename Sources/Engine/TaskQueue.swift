import Scheduling
import Synchronization

/// Lets one command at a time work on a task within this process.
///
/// Commands on the same task would otherwise race: each decides on the same version, one
/// group commit takes the first and refuses the rest, and the losers decide again — with a
/// hundred outcomes of one task arriving together, some lose every round. Queued, each
/// decides on the state its predecessor left. Commands on different tasks never wait for
/// each other. Waiting is not cancellable: the holder only decides and appends, which ends.
final class TaskQueue: Sendable {
    /// Tasks held by a command, with the commands waiting for each, in arrival order.
    private let held = Mutex<[TaskID: [CheckedContinuation<Void, Never>]]>([:])

    /// Runs `body` while holding `task`.
    func exclusively<T: Sendable>(_ task: TaskID, _ body: () async throws -> T) async throws -> T {
        await acquire(task)
        defer { release(task) }
        return try await body()
    }

    private func acquire(_ task: TaskID) async {
        if held.withLock({ Self.take(task, in: &$0) }) { return }
        await withCheckedContinuation { (waiter: CheckedContinuation<Void, Never>) in
            let acquired = held.withLock { queues in
                if Self.take(task, in: &queues) { return true }
                queues[task, default: []].append(waiter)
                return false
            }
            if acquired { waiter.resume() }
        }
    }

    /// Marks `task` held when nobody holds it.
    private static func take(_ task: TaskID, in queues: inout [TaskID: [CheckedContinuation<Void, Never>]]) -> Bool {
        guard queues[task] == nil else { return false }
        queues[task] = []
        return true
    }

    /// Hands `task` to the next waiter, or frees it.
    private func release(_ task: TaskID) {
        let next = held.withLock { queues -> CheckedContinuation<Void, Never>? in
            guard var waiting = queues[task], !waiting.isEmpty else {
                queues[task] = nil
                return nil
            }
            let next = waiting.removeFirst()
            queues[task] = waiting
            return next
        }
        next?.resume()
    }
}
