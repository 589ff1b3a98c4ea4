import AlmanacTesting
import Foundation
import Journal
import Scheduling
import Synchronization
import Testing

/// Kills a running engine with SIGKILL while webhook calls are in flight, several times,
/// and checks the journal: every attempt claimed once, every claim finished, no scheduled
/// occurrence lost, and no call to the receiver without a claim behind it.
@Suite("Engine crash safety", .serialized)
struct EngineCrashTests {
    @Test(.timeLimit(.minutes(3)))
    func killingTheEngineLosesNoOccurrenceAndClaimsNoneTwice() async throws {
        let torture = try BuiltProduct.path("engine-torture")
        let counter = CallCounter()
        // Slow answers keep calls in flight at the kill; every tenth fails, forcing retries.
        let receiver = try await WebhookReceiver.start { _ in
            let call = counter.next()
            return .init(status: call % 10 == 0 ? 500 : 200, delay: .milliseconds(Int64(call * 37 % 300)))
        }
        let tasks = 12
        try await TemporaryDirectory.with(prefix: "almanac-engine-crash") { directory in
            for round in 1...4 {
                let before = receiver.received.count
                let child = try ChildProcess(executable: torture, arguments: [directory, receiver.url(""), "\(tasks)"])
                await #expect(child.waitFor(timeout: 60) { $0.contains("ready") }, "round \(round): the engine did not start")
                #expect(await receiver.waitForRequests(before + 3 * tasks, timeout: 20), "round \(round): no calls arrived")
                child.send(SIGKILL)
                let (_, status) = await child.waitForExit()
                #expect(status == SIGKILL)
            }
            let recovery = try ChildProcess(executable: torture, arguments: [directory, receiver.url(""), "\(tasks)", "--recover"])
            await #expect(recovery.waitForExit().status == 0)
            try await check(directory: directory, receiver: receiver, tasks: tasks)
        }
        try await receiver.stop()
    }

    private func check(directory: String, receiver: WebhookReceiver, tasks: Int) async throws {
        let journal = try LMDBJournal(directory: directory, configuration: .init(readOnly: true))
        defer { journal.close() }
        let report = try journal.verifyIntegrity()
        #expect(report.isClean, "\(report.problems.prefix(3))")
        var starts: [RunID: Int] = [:]
        var outcomes: [RunID: Int] = [:]
        var interrupted = 0
        var scheduled: [TaskID: [Instant]] = [:]
        var position: UInt64 = 0
        while true {
            let batch = try journal.readEvents(after: position, limit: 4096)
            guard let last = batch.last else { break }
            position = last.position
            for record in batch {
                let event = try EventCodec.decode(
                    type: record.type, schemaVersion: record.schemaVersion, payload: record.payload,
                    taskID: TaskID(record.streamID.rawValue), at: Instant(microsecondsSinceEpoch: record.recordedAt)
                )
                switch event.kind {
                case .runStarted(let start):
                    starts[start.run, default: 0] += 1
                    if start.attempt == 1 && start.occurrenceKind == .scheduled { scheduled[event.taskID, default: []].append(start.scheduledAt) }
                case .runSucceeded(let run, _):
                    outcomes[run, default: 0] += 1
                case .runFailed(let run, _, let wasInterrupted):
                    outcomes[run, default: 0] += 1
                    if wasInterrupted { interrupted += 1 }
                case .occurrenceSkipped(let skip):
                    if skip.attempt == 1 && skip.occurrenceKind == .scheduled { scheduled[event.taskID, default: []].append(skip.scheduledAt) }
                default:
                    break
                }
            }
        }
        // Every attempt claimed exactly once, and every claim finished exactly once.
        #expect(starts.values.allSatisfy { $0 == 1 }, "an attempt was claimed twice")
        #expect(Set(starts.keys) == Set(outcomes.keys), "claims without an outcome, or outcomes without a claim")
        #expect(outcomes.values.allSatisfy { $0 == 1 }, "a run has two outcomes")
        #expect(starts.count > tasks * 4)
        #expect(interrupted > 0, "no run was in flight at any kill: the test proved nothing")
        // No scheduled occurrence was lost: each task's occurrences run every second, gap-free.
        #expect(scheduled.count == tasks)
        for (task, instants) in scheduled {
            let sorted = instants.sorted()
            #expect(Set(sorted).count == sorted.count, "\(task): an occurrence handled twice")
            for (previous, next) in zip(sorted, sorted.dropFirst()) {
                #expect(next - previous == .seconds(1), "\(task): occurrences missing between \(previous) and \(next)")
            }
        }
        // Every call the receiver saw belongs to a claim, once per attempt.
        var calls: [String: Int] = [:]
        for request in receiver.received {
            guard let run = request.header("Almanac-Run-Id") else { continue }
            calls[run, default: 0] += 1
        }
        #expect(calls.values.allSatisfy { $0 == 1 }, "an attempt reached the receiver twice")
        #expect(Set(calls.keys).isSubset(of: Set(starts.keys.map(\.rawValue))), "a call without a claim")
    }
}
