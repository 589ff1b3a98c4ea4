import AlmanacTesting
import Foundation
import Journal
import Projections
import Scheduling
import Testing

/// For random command sequences: the live projection equals a full replay of the journal,
/// and equals a snapshot plus the tail — checked at every step.
@Suite("Replay equivalence")
struct ReplayPropertyTests {
    /// Task slots (four unless told); a slot whose task was deleted moves on to a fresh id.
    struct Slots {
        var generation: [Int]
        init(count: Int = 4) { generation = Array(repeating: 0, count: count) }
        func id(_ slot: Int) -> TaskID { TaskID("task-\(slot)-\(generation[slot])") }
    }

    /// One random command for one random task, shaped by the live state so that most of
    /// them are legal (illegal ones must be refused without a trace).
    static func randomCommand(
        _ harness: inout Harness,
        slots: inout Slots,
        now: Instant,
        random: inout SeededRandom
    ) -> (TaskID, TaskCommand.Action) {
        let slot = Int.random(in: 0..<slots.generation.count, using: &random)
        if harness.live.tasks[slots.id(slot)]?.status == .deleted, Int.random(in: 0..<4, using: &random) == 0 {
            slots.generation[slot] += 1
        }
        let task = slots.id(slot)
        let state = harness.live.tasks[task]
        let due = harness.live.due(at: now).filter { $0.taskID == task }
        let inFlight = state.map { Array($0.inFlight.keys).sorted() } ?? []
        let retry = RetryPolicy(maxAttempts: Int.random(in: 1...3, using: &random), initialBackoff: .seconds(20), multiplier: 2, maxBackoff: .seconds(90))
        let overlap: OverlapPolicy = Bool.random(using: &random) ? .allow : .forbid
        let roll = Int.random(in: 0..<100, using: &random)
        if roll < 40, let entry = due.randomElement(using: &random) {
            return roll < 33 ? (task, .startRun(entry.occurrence)) : (task, .skipOccurrence(entry.occurrence, .misfire))
        }
        if roll < 70, let run = inFlight.randomElement(using: &random) {
            if roll < 58 {
                let outcome = RunOutcome(statusCode: 200, duration: .milliseconds(Int64.random(in: 1...900, using: &random)), responseExcerpt: "ok")
                return (task, .completeRun(run, outcome))
            }
            return (task, .failRun(run, RunOutcome(statusCode: 500, error: "HTTP 500")))
        }
        switch Int.random(in: 0..<100, using: &random) {
        case 0..<30:
            return (task, .createTask(randomDefinition(now: now, retry: retry, overlap: overlap, random: &random)))
        case 30..<42:
            return (task, .updateTask(randomDefinition(now: now, retry: retry, overlap: overlap, random: &random)))
        case 42..<54:
            return (task, .pauseTask)
        case 54..<70:
            return (task, .resumeTask)
        case 70..<74:
            return (task, .deleteTask)
        case 74..<86:
            return (task, .triggerTask(trigger: "t\(Int.random(in: 0..<6, using: &random))"))
        case 86..<92:
            return (task, .recoverRuns)
        default:
            // Illegal: a run that is not in flight.
            return (task, .completeRun(RunID(.scheduled(task, at: now), attempt: 1), RunOutcome(statusCode: 200)))
        }
    }

    static func randomDefinition(now: Instant, retry: RetryPolicy, overlap: OverlapPolicy, random: inout SeededRandom) -> TaskDefinition {
        let kind: Schedule.Kind
        switch Int.random(in: 0..<3, using: &random) {
        case 0: kind = .interval(every: .seconds(Int64.random(in: 20...120, using: &random)), anchor: now)
        case 1: kind = .cron(try! CronSchedule(expression: CronExpression("*/30 * * * * *"), timeZoneIdentifier: "Europe/Lisbon"))
        default: kind = .once(Instant(microsecondsSinceEpoch: now.microsecondsSinceEpoch + Int64.random(in: 1...300, using: &random) * 1_000_000))
        }
        return TaskDefinition(
            name: "task-\(Int.random(in: 0..<3, using: &random))",
            schedule: Schedule(kind),
            action: WebhookAction(url: "http://127.0.0.1:9/"),
            retry: retry,
            overlap: overlap
        )
    }

    /// Full replay from position 0 after every step: quadratic, so 1,000 steps per seed.
    @Test(arguments: [(UInt64(1), 1_000), (UInt64(2), 1_000), (UInt64(3), 1_000)])
    func liveEqualsFullReplayEqualsSnapshotPlusTail(seed: UInt64, steps: Int) async throws {
        try await check(seed: seed, steps: steps, fullReplayEvery: 1)
    }

    /// A long sequence: after every step the live projection is compared with a replica
    /// folded only from the journal's stored records since position 0 (replay, continued
    /// rather than restarted) and with a snapshot plus tail; a replay restarted from
    /// position 0 runs every 100 steps.
    @Test func aLongSequenceStaysEquivalent() async throws {
        try await check(seed: 42, steps: 3_000, fullReplayEvery: 100)
    }

    private func check(seed: UInt64, steps: Int, fullReplayEvery: Int) async throws {
        var random = SeededRandom(seed: seed)
        var harness = Harness()
        var now = seconds(0)
        var snapshots: [StoredSnapshot] = []
        var appended = 0
        var slots = Slots()
        var replica = Projection(runRetention: 5)
        for step in 0..<steps {
            now = Instant(microsecondsSinceEpoch: now.microsecondsSinceEpoch + Int64.random(in: 0...12, using: &random) * 1_000_000)
            let (task, action) = Self.randomCommand(&harness, slots: &slots, now: now, random: &random)
            let headBefore = try await harness.journal.head()
            let events = try await harness.run(task, action, at: now)
            let headAfter = try await harness.journal.head()
            #expect(headAfter == headBefore + UInt64(events.count), "step \(step): journal and decision disagree")
            appended += events.count

            // Replay of the stored records from position 0: continued every step, restarted
            // every `fullReplayEvery` steps.
            try await Replay.catchUp(&replica, from: harness.journal)
            #expect(replica == harness.live, "seed \(seed) step \(step): live differs from replay")
            var replayed = replica
            if step % fullReplayEvery == 0 {
                replayed = try await Replay.build(from: harness.journal, runRetention: 5)
                #expect(replayed == harness.live, "seed \(seed) step \(step): live differs from full replay")
                #expect(replayed.digest == harness.live.digest)
                // A full replay builds its due index once, at the end: the same entries.
                var live = harness.live
                let end = Instant(microsecondsSinceEpoch: .max)
                #expect(!replayed.dueIndexDeferred)
                #expect(replayed.due(at: end) == live.due(at: end), "seed \(seed) step \(step): due entries of the full replay differ")
            }

            // Snapshot at an earlier position plus the tail, every step.
            if step % 37 == 0 { snapshots.append(ProjectionSnapshot.make(harness.live)) }
            if let snapshot = snapshots.randomElement(using: &random) {
                var resumed = try #require(try ProjectionSnapshot.load(snapshot, runRetention: 5))
                try await Replay.catchUp(&resumed, from: harness.journal)
                #expect(resumed == harness.live, "seed \(seed) step \(step): snapshot at \(snapshot.position) + tail differs")
                // The parts derived on loading (the due index, the namespace counts) agree too.
                var live = harness.live
                let end = Instant(microsecondsSinceEpoch: .max)
                #expect(resumed.due(at: end) == live.due(at: end), "seed \(seed) step \(step): due entries differ")
                #expect(resumed.liveTasksByNamespace == harness.live.liveTasksByNamespace)
            }
            if replayed != harness.live { break }
        }
        #expect(harness.live.inconsistencies == 0)
        // The sequence exercised the rules: runs started, finished, retried and skipped.
        let counts = harness.live.tasks.values.reduce(into: RunCounts()) { total, state in
            total.runs += state.counts.runs
            total.succeeded += state.counts.succeeded
            total.failed += state.counts.failed
            total.skipped += state.counts.skipped
        }
        #expect(appended > steps / 3, "refused: \(harness.refusals)")
        #expect(counts.runs > 50 && counts.succeeded > 10 && counts.failed > 10 && counts.skipped > 5, "\(counts)")
    }
}
