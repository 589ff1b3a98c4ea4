#if canImport(Glibc)
import Glibc
#endif
public import Journal
public import Scheduling

/// Builds projections from a journal: in full, up to a point, or from a snapshot plus the tail.
public enum Replay {
    /// How far to replay.
    public enum Limit: Sendable, Hashable {
        /// Everything.
        case head
        /// Every event up to and including this position.
        case position(UInt64)
        /// The longest prefix of the journal whose events were all recorded at or before this instant.
        case instant(Instant)
    }

    /// Replays `journal` from position 0 up to `limit`.
    public static func build(
        from journal: some Journal,
        until limit: Limit = .head,
        runRetention: Int = 20,
        batchSize: Int = 4096,
        workers: Int = Replay.workers
    ) async throws -> Projection {
        var projection = Projection(runRetention: runRetention)
        projection.deferDueIndex()
        try await fold(into: &projection, from: journal, until: limit, batchSize: batchSize, workers: workers)
        projection.rebuildDueIndex()
        return projection
    }

    /// How many cores a replay folds on by default: those online, at most 8.
    public static var workers: Int {
        #if canImport(Glibc)
        return max(1, min(8, sysconf(Int32(_SC_NPROCESSORS_ONLN))))
        #else
        return 1
        #endif
    }

    /// Starts from the newest usable snapshot at or before the limit's position, then replays
    /// the tail. Falls back to a full replay when there is no snapshot, when its format is
    /// not this build's, or when it is damaged: a snapshot is never trusted wrongly.
    public static func fromSnapshot(
        of journal: some Journal & SnapshotStore,
        until limit: Limit = .head,
        runRetention: Int = 20,
        workers: Int = Replay.workers
    ) async throws -> (projection: Projection, snapshotPosition: UInt64?) {
        let ceiling: UInt64
        switch limit {
        case .head, .instant: ceiling = .max
        case .position(let position): ceiling = position
        }
        var start = Projection(runRetention: runRetention)
        start.deferDueIndex()  // for a replay from position 0; a snapshot replaces it
        var used: UInt64?
        // Read in place: a copy of a million tasks' snapshot is a gigabyte of memory.
        let loaded = try await journal.withLatestSnapshot(atOrBefore: ceiling) { snapshot in
            snapshot.flatMap { try? ProjectionSnapshot.load($0, runRetention: runRetention) }
        }
        if let loaded, try await snapshotFits(loaded.position, limit: limit, journal: journal) {
            used = loaded.position
            start = consume loaded
        }
        // Without a snapshot the due index is built once at the end; a snapshot's (derived as
        // its parts were read) is brought up to date with the tasks the tail changed.
        try await fold(into: &start, from: journal, until: limit, batchSize: 4096, workers: workers)
        start.rebuildDueIndex()
        return (start, used)
    }

    /// Applies every event after the projection's position, up to `limit`.
    public static func catchUp(
        _ projection: inout Projection,
        from journal: some Journal,
        until limit: Limit = .head,
        batchSize: Int = 4096
    ) async throws {
        while true {
            let batch = try await journal.read(after: projection.position, limit: batchSize)
            if batch.isEmpty { return }
            for event in batch {
                switch limit {
                case .head: break
                case .position(let last): if event.position > last { return }
                case .instant(let instant): if event.recordedAt > instant.microsecondsSinceEpoch { return }
                }
                try projection.apply(event)
            }
        }
    }

    /// ``catchUp(_:from:until:batchSize:)`` folded on `workers` cores (``ParallelFold``) when
    /// more than one.
    private static func fold(
        into projection: inout Projection,
        from journal: some Journal,
        until limit: Limit,
        batchSize: Int,
        workers: Int
    ) async throws {
        guard workers > 1 else {
            try await catchUp(&projection, from: journal, until: limit, batchSize: batchSize)
            return
        }
        let fold = ParallelFold(taking: &projection, workers: workers)
        defer { fold.finish(into: &projection) }
        /// Folds the records within the limit; whether to read on.
        func apply(_ records: [BorrowedRecord]) -> Result<Bool, ProjectionError> {
            let within: ArraySlice<BorrowedRecord>
            switch limit {
            case .head: within = records[...]
            case .position(let end): within = records.prefix { $0.position <= end }
            case .instant(let instant): within = records.prefix { $0.recordedAt <= instant.microsecondsSinceEpoch }
            }
            return Result { () throws(ProjectionError) in
                if !within.isEmpty { try fold.apply(within) }
                return !records.isEmpty && within.count == records.count
            }
        }
        var after = projection.position
        if let lending = journal as? any BorrowingJournal {
            // Records are read in place and folded there, while the next batches are read;
            // a read transaction spans a few dozen batches, so it stays short.
            var finished = false
            while !finished {
                try lending.withRecordReader(after: after) { next in
                    Result {
                        var batches = 0
                        try fold.apply { records in
                            try next(&records, batchSize)
                            let read = records.count
                            let beyond: Int?
                            switch limit {
                            case .head: beyond = nil
                            case .position(let end): beyond = records.firstIndex { $0.position > end }
                            case .instant(let instant): beyond = records.firstIndex { $0.recordedAt > instant.microsecondsSinceEpoch }
                            }
                            if let beyond { records.removeSubrange(beyond...) }
                            after = records.last?.position ?? after
                            batches += 1
                            finished = records.isEmpty || records.count < read
                            return !finished && batches < Self.batchesPerTransaction
                        }
                    }
                }.get()
            }
            return
        }
        var batch = try await journal.read(after: after, limit: batchSize)
        while let last = batch.last {
            // The next batch is read while this one is folded.
            async let next = journal.read(after: last.position, limit: batchSize)
            guard try batch.withBorrowedRecords(apply).get() else { return }
            batch = try await next
        }
    }

    /// How many batches a replay reads in one read transaction.
    static let batchesPerTransaction = 64

    /// Whether a snapshot at `position` lies within `limit` (for an instant: its last event
    /// was recorded at or before it).
    private static func snapshotFits(_ position: UInt64, limit: Limit, journal: some Journal) async throws -> Bool {
        guard case .instant(let instant) = limit else { return true }
        guard position > 0 else { return true }
        guard let last = try await journal.read(after: position - 1, limit: 1).first else { return false }
        return last.recordedAt <= instant.microsecondsSinceEpoch
    }
}
