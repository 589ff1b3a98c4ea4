public import Scheduling

/// Which runs a listing shows (`GET /v1/runs`, `GET /v1/tasks/{id}/runs`).
public struct RunFilter: Sendable {
    /// Only runs with this outcome.
    public var outcome: RunRecord.Outcome?
    /// Only runs started at or after this instant.
    public var since: Instant?
    /// Only runs started at or before this instant.
    public var until: Instant?
    /// Only runs listed after this one: started earlier, or at the same instant with a run id
    /// ordered before it (a page's cursor).
    public var before: (startedAt: Instant, run: String)?

    public init(
        outcome: RunRecord.Outcome? = nil, since: Instant? = nil, until: Instant? = nil,
        before: (startedAt: Instant, run: String)? = nil
    ) {
        self.outcome = outcome
        self.since = since
        self.until = until
        self.before = before
    }
}

extension RunLog {
    /// The newest `limit` records that pass `filter`, newest first: by started-at, then by
    /// run id, both descending. Of `tasks` only, when given; of the tasks `includes` admits.
    ///
    /// One pass over the compact records with a heap of `limit`: a run record and its id
    /// text are made only for the records picked (and ids compared only between records
    /// started at the same instant). Listing the newest runs of a million tasks made a
    /// record of each of their 4.4 million and sorted them all: 26–30 s on the store's
    /// actor, with every command waiting (ADR 0015).
    public func newest(
        _ limit: Int, matching filter: RunFilter, of tasks: [TaskID]? = nil, includes: ((TaskID) -> Bool)? = nil
    ) -> [(task: TaskID, record: RunRecord)] {
        var picked = Smallest<Candidate>(limit) { $0.isNewer(than: $1) }
        let since = filter.since?.microsecondsSinceEpoch ?? .min
        let until = filter.until?.microsecondsSinceEpoch ?? .max
        let before = filter.before.map { (startedAt: $0.startedAt.microsecondsSinceEpoch, run: $0.run) }
        func offer(_ chain: Chain, in part: Part) {
            if let includes, !includes(chain.task) { return }
            var slot = chain.newest
            while slot >= 0 {
                let entry = part.entries[Int(slot)]
                defer { slot = entry.older }
                if let outcome = filter.outcome, entry.outcome != outcome { continue }
                guard entry.startedAt >= since, entry.startedAt <= until else { continue }
                if let largest = picked.largest, picked.isFull, entry.startedAt < largest.kept.entry.startedAt { continue }
                let candidate = Candidate(
                    task: chain.task, kept: Kept(entry: entry, occurrence: entry.irregular ? part.occurrences[slot] : nil)
                )
                if let before {
                    guard entry.startedAt <= before.startedAt else { continue }
                    if entry.startedAt == before.startedAt, candidate.run >= before.run { continue }
                }
                picked.offer(candidate)
            }
        }
        if let tasks {
            for task in tasks {
                let part = part(TaskTable.part(of: task))
                if let chain = part.chain(of: task) { offer(chain, in: part) }
            }
        } else {
            for number in 0..<TaskTable.partCount {
                let part = part(number)
                for chain in part.chains { offer(chain, in: part) }
            }
        }
        return picked.sorted().map { ($0.task, $0.kept.record(of: $0.task)) }
    }

    /// A record considered for a listing.
    private struct Candidate {
        let task: TaskID
        let kept: Kept

        /// The run id's text (made only to order records started at the same instant).
        var run: String { kept.record(of: task).run.rawValue }

        func isNewer(than other: Candidate) -> Bool {
            let started = kept.entry.startedAt
            let otherStarted = other.kept.entry.startedAt
            return started != otherStarted ? started > otherStarted : run > other.run
        }
    }
}
