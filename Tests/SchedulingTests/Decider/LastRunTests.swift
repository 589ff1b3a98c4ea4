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

    @Test func runIdsSplitIntoTheirOccurrenceAndAttempt() {
        let cases: [(String, (String, Int)?)] = [
            ("t@60#1", ("t@60", 1)),  // a small string
            ("a-much-longer-task-id@1800000000000000#12", ("a-much-longer-task-id@1800000000000000", 12)),
            ("tâche-été@5#3", ("tâche-été@5", 3)),  // multi-byte characters before the `#`
            ("a#b@7#2", ("a#b@7", 2)),  // the last `#` counts
            ("x@1#0", ("x@1", 0)),
            ("x@1#01", nil), ("x@1#", nil), ("x@1#-", nil), ("no-attempt", nil), ("", nil), ("#5", ("", 5)),
        ]
        for (text, expected) in cases {
            let split = RunIDText.split(RunID(rawValue: text))
            #expect(split.map { String(Substring($0.0)) } == expected?.0, "\(text)")
            #expect(split?.1 == expected?.1, "\(text)")
        }
        let task = TaskID("tâche")
        #expect(OccurrenceText.scheduledInstant("tâche@-5".utf8[...], of: task) == -5)
        #expect(OccurrenceText.scheduledInstant("tâche@05".utf8[...], of: task) == nil)
        #expect(OccurrenceText.scheduledInstant("tâchf@5".utf8[...], of: task) == nil)
        #expect(OccurrenceText.scheduledInstant("tâche!5".utf8[...], of: task) == nil)
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
