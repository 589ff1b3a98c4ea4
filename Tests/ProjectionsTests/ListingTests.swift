import AlmanacTesting
import Journal
@testable import Projections
import Scheduling
import Testing

/// Pages of tasks and runs picked in one pass with a heap (`Smallest`) are the pages a full
/// sort gives, for every filter and cursor.
@Suite("Listings")
struct ListingTests {
    @Test func theSmallestAreKeptWhateverTheOrderTheyCome() {
        var random = SeededRandom(seed: 31)
        for capacity in [0, 1, 2, 7, 100] {
            let values = (0..<300).map { _ in Int.random(in: 0..<120, using: &random) }
            var smallest = Smallest<Int>(capacity, by: <)
            for value in values { smallest.offer(value) }
            #expect(smallest.sorted() == Array(values.sorted().prefix(capacity)), "capacity \(capacity)")
            #expect(smallest.isFull == (capacity <= values.count))
        }
    }

    /// Every run record of the live projection, newest first, as the API listed them before:
    /// made into records, filtered, sorted by started-at then run id, both descending.
    private func reference(_ projection: Projection, _ filter: RunFilter, tasks: [TaskID]? = nil) -> [(TaskID, RunRecord)] {
        var all: [(TaskID, RunRecord)] = []
        for task in tasks ?? Array(projection.tasks.keys) {
            for record in projection.runLog.records(of: task) {
                if let outcome = filter.outcome, record.outcome != outcome { continue }
                if let since = filter.since, record.startedAt < since { continue }
                if let until = filter.until, record.startedAt > until { continue }
                if let before = filter.before, !((record.startedAt, record.run.rawValue) < (before.startedAt, before.run)) { continue }
                all.append((task, record))
            }
        }
        return all.sorted { ($0.1.startedAt, $0.1.run.rawValue) > ($1.1.startedAt, $1.1.run.rawValue) }
    }

    @Test func pagesOfRunsAreThePagesOfAFullSort() async throws {
        // Two to four seconds between steps: many runs start at the same instant, so pages
        // are ordered by run id too.
        let harness = try await ParallelReplayTests.journal(seed: 32, steps: 2_500)
        let live = harness.live
        #expect(live.runLog.recordCount > 150)
        let starts = reference(live, RunFilter()).map(\.1.startedAt)
        #expect(Set(starts).count < starts.count, "runs started at the same instant are ordered by id")
        let middle = Instant(microsecondsSinceEpoch: (live.runLog.newest(1, matching: RunFilter()).first?.record.startedAt.microsecondsSinceEpoch ?? 0) / 2 + 1)
        let filters: [RunFilter] = [
            RunFilter(), RunFilter(outcome: .failed), RunFilter(outcome: .skipped), RunFilter(since: middle),
            RunFilter(until: middle), RunFilter(outcome: .succeeded, since: middle),
        ]
        for base in filters {
            let expected = reference(live, base)
            for pageSize in [1, 7, 50] {
                // Walk the pages with the cursor the API gives (the last run of a page).
                var seen: [(TaskID, RunRecord)] = []
                var filter = base
                while true {
                    let page = live.runLog.newest(pageSize, matching: filter)
                    seen += page.map { ($0.task, $0.record) }
                    guard page.count == pageSize, let last = page.last else { break }
                    filter.before = (last.record.startedAt, last.record.run.rawValue)
                }
                #expect(seen.map(\.1) == expected.map(\.1), "\(base.outcome as Any) \(base.since as Any) \(base.until as Any), pages of \(pageSize)")
                #expect(seen.map(\.0) == expected.map(\.0))
            }
        }
        // One task's runs, and the tasks a caller sees.
        let task = try #require(live.tasks.keys.first { !live.runLog.records(of: $0).isEmpty })
        #expect(live.runLog.newest(1_000, matching: RunFilter(), of: [task]).map(\.record) == reference(live, RunFilter(), tasks: [task]).map(\.1))
        let even = { (id: TaskID) in id.rawValue.hashValue % 2 == 0 }
        let expected = reference(live, RunFilter()).filter { even($0.0) }
        #expect(live.runLog.newest(1_000_000, matching: RunFilter(), includes: even).map(\.record) == expected.map(\.1))
    }

    @Test func pagesOfTasksAreThePagesOfAFullSort() async throws {
        let harness = try await ParallelReplayTests.journal(seed: 33, steps: 800)
        let tasks = harness.live.tasks
        #expect(tasks.count > 40)
        for include in [{ (_: borrowing TaskState) in true }, { (state: borrowing TaskState) in state.status == .active }] {
            let expected = tasks.values.filter { include($0) }.sorted { $0.id < $1.id }
            for pageSize in [1, 5, 1_000] {
                var seen: [TaskState] = []
                var after: String?
                while true {
                    let page = tasks.first(pageSize, after: after, where: include)
                    seen += page
                    guard page.count == pageSize, let last = page.last else { break }
                    after = last.id.rawValue
                }
                #expect(seen == expected, "pages of \(pageSize)")
            }
        }
    }
}
