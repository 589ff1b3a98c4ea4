import Scheduling
import Testing

/// The last run keeps its id as numbers where it can and gives back exactly the id it got.
@Suite("Last run") struct LastRunTests {
    @Test func everyRunIdComesBackAsItWasGiven() {
        let task = TaskID("a-task")
        let at = Instant(microsecondsSinceEpoch: 1_800_000_000_000_000)
        let ids: [RunID] = [
            RunID(.scheduled(task, at: at), attempt: 1),
            RunID(.scheduled(task, at: Instant(microsecondsSinceEpoch: 0)), attempt: 3),
            RunID(.scheduled(task, at: Instant(microsecondsSinceEpoch: -5)), attempt: 2),
            RunID(.manual(task, trigger: "by-hand"), attempt: 1),
            RunID(.scheduled("another-task", at: at), attempt: 1),
            RunID(rawValue: "a-task@01800000000000000#1"),  // a leading zero: not derived
            RunID(rawValue: "a-task@1800000000000000#01"),
            RunID(rawValue: "no-attempt-here"),
            RunID(rawValue: "a-task@1#99999999999"),
            RunID(rawValue: ""),
        ]
        for id in ids {
            var last = LastRun(run: id, of: task, result: .failed, at: at, statusCode: 502)
            #expect(last.run(of: task) == id, "\(id)")
            #expect(last.statusCode == 502)
            last.statusCode = nil
            #expect(last.statusCode == nil)
        }
    }

    @Test func equalRunsMakeEqualRecords() {
        let task = TaskID("t")
        let at = Instant(microsecondsSinceEpoch: 60_000_000)
        let run = RunID(.scheduled(task, at: at), attempt: 1)
        let one = LastRun(run: run, of: task, result: .succeeded, at: at, statusCode: 200)
        #expect(one == LastRun(run: RunID(rawValue: run.rawValue), of: task, result: .succeeded, at: at, statusCode: 200))
        #expect(one != LastRun(run: RunID(.scheduled(task, at: at), attempt: 2), of: task, result: .succeeded, at: at, statusCode: 200))
    }
}
