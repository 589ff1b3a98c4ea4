import Foundation
import LMDB
import Synchronization

/// The journal's single writer: a dedicated thread that takes every append waiting when a
/// commit starts, writes them in one LMDB transaction, commits (fsync) once, and only then
/// resumes their callers.
///
/// LMDB allows one write transaction at a time and ties it to its thread, so one thread is
/// the natural owner; batching is what turns one fsync per commit into throughput.
final class GroupCommitWriter: @unchecked Sendable {
    // @unchecked: `queue`, `stopping` and `finished` are touched only while holding
    // `condition`; `head`, `lastChecksum`, `scratch` and `indexTail` only on the writer
    // thread (and in init, before it starts). The
    // LMDB handles are immutable and used for writing only on the writer thread.

    typealias Results = [Result<AppendResult, JournalError>]

    /// Work that needs its own write transaction on the writer thread (snapshots).
    private struct Job {
        let body: @Sendable (borrowing WriteTransaction) throws -> Void
        let continuation: UnsafeContinuation<Result<Void, JournalError>, Never>
    }

    private struct Pending {
        let requests: [AppendRequest]
        let eventCount: Int
        /// Roughly the bytes its records take, to bound a commit's segment.
        let byteCount: Int
        let continuation: UnsafeContinuation<Results, Never>
    }

    private let environment: Environment
    private let events: Database
    private let streams: Database
    private let meta: Database
    private let maxEventsPerCommit: Int
    /// The most record bytes one commit takes (a single larger append still goes alone).
    static let maxBytesPerCommit = 32 << 20
    private let notifier: PositionNotifier

    private let condition = MonotonicCondition()
    private var queue: [Pending] = []
    private var jobs: [Job] = []
    /// How many callers the last commit resumed: the writer expects them back soon.
    private var lastBatchSize = 0
    private let gatheringWindow: UInt64
    private var stopping = false
    private var finished = false

    /// Commits made and events they carried, for metrics and benchmarks.
    let commits = Atomic<Int>(0)
    let committedEvents = Atomic<Int>(0)
    /// Commits by batch size: bucket `i` counts batches of at most `2^i` events (the last
    /// bucket, everything larger).
    let batchSizes = Mutex([Int](repeating: 0, count: GroupCommitWriter.batchSizeBuckets))
    static let batchSizeBuckets = 16

    private var head: UInt64
    private var lastChecksum: UInt32
    private var scratch: [UInt8] = []
    private var segment = Segment.Builder()
    private var indexTail: StreamIndexTail
    private let indexFlushThreshold: Int

    init(
        environment: Environment,
        events: Database,
        streams: Database,
        meta: Database,
        head: UInt64,
        lastChecksum: UInt32,
        indexTail: StreamIndexTail,
        indexFlushThreshold: Int,
        maxEventsPerCommit: Int,
        gatheringWindow: Duration,
        notifier: PositionNotifier
    ) {
        // At most one second: a window is a few hundred microseconds in practice.
        let window = min(max(gatheringWindow, .zero), .seconds(1))
        let (seconds, attoseconds) = window.components
        self.gatheringWindow = UInt64(seconds) * 1_000_000_000 + UInt64(attoseconds / 1_000_000_000)
        self.environment = environment
        self.events = events
        self.streams = streams
        self.meta = meta
        self.indexTail = indexTail
        self.indexFlushThreshold = max(1, indexFlushThreshold)
        self.head = head
        self.lastChecksum = lastChecksum
        self.maxEventsPerCommit = max(1, maxEventsPerCommit)
        self.notifier = notifier
        let thread = Thread { [self] in run() }
        thread.name = "almanac-journal-writer"
        thread.start()
    }

    /// Queues `requests` for the next commit and returns their results once it is durable.
    func submit(_ requests: [AppendRequest]) async -> Results {
        var invalid: [Int: JournalError] = [:]
        var eventCount = 0
        var byteCount = 0
        for (index, request) in requests.enumerated() {
            do {
                try request.validate()
                eventCount += request.events.count
                for event in request.events { byteCount += event.payload.count + 64 }
            } catch {
                invalid[index] = error
            }
        }
        if invalid.isEmpty {
            return await enqueue(requests, eventCount: eventCount, byteCount: byteCount)
        }
        // Only the valid requests go to the writer; the others fail here, alone.
        let validIndices = requests.indices.filter { invalid[$0] == nil }
        var results = requests.indices.map { Result<AppendResult, JournalError>.failure(invalid[$0] ?? .closedJournal) }
        guard !validIndices.isEmpty else { return results }
        let committed = await enqueue(validIndices.map { requests[$0] }, eventCount: eventCount, byteCount: byteCount)
        for (offset, index) in validIndices.enumerated() { results[index] = committed[offset] }
        return results
    }

    private func enqueue(_ requests: [AppendRequest], eventCount: Int, byteCount: Int) async -> Results {
        await withUnsafeContinuation { (continuation: UnsafeContinuation<Results, Never>) in
            condition.lock()
            if stopping {
                condition.unlock()
                continuation.resume(returning: Results(repeating: .failure(.closedJournal), count: requests.count))
                return
            }
            queue.append(Pending(requests: requests, eventCount: eventCount, byteCount: byteCount, continuation: continuation))
            condition.signal()
            condition.unlock()
        }
    }

    /// Commits what is queued, then stops the thread and waits for it to end.
    func stop() {
        condition.lock()
        stopping = true
        condition.broadcast()
        while !finished { condition.wait() }
        condition.unlock()
    }

    // MARK: Writer thread

    private func run() {
        var batch: [Pending] = []
        while true {
            condition.lock()
            gather()
            while queue.isEmpty && jobs.isEmpty && !stopping { condition.wait() }
            if queue.isEmpty && jobs.isEmpty {
                flushIndexForClose()
                finished = true
                condition.broadcast()
                condition.unlock()
                return
            }
            takeBatch(into: &batch)
            lastBatchSize = batch.count
            let pendingJobs = jobs
            jobs.removeAll()
            condition.unlock()
            if !batch.isEmpty { commit(batch) }
            batch.removeAll(keepingCapacity: true)
            for job in pendingJobs { perform(job) }
        }
    }

    /// Runs work that needs a write transaction of its own on the writer thread, between
    /// commits; returns once it is committed.
    func perform(_ body: @escaping @Sendable (borrowing WriteTransaction) throws -> Void) async throws(JournalError) {
        let result = await withUnsafeContinuation { (continuation: UnsafeContinuation<Result<Void, JournalError>, Never>) in
            condition.lock()
            if stopping {
                condition.unlock()
                continuation.resume(returning: .failure(.closedJournal))
                return
            }
            jobs.append(Job(body: body, continuation: continuation))
            condition.signal()
            condition.unlock()
        }
        try result.get()
    }

    private func perform(_ job: Job) {
        do {
            try environment.withWriteTransaction { txn in try job.body(txn) }
            job.continuation.resume(returning: .success(()))
        } catch {
            job.continuation.resume(returning: .failure(LMDBJournal.journalError(error)))
        }
    }

    /// After a commit that resumed several callers, waits (with the lock held) a little
    /// for them to come back, so the next commit carries them all instead of splitting
    /// into two alternating half-size cohorts. Bounded by the gathering window.
    private func gather() {
        guard gatheringWindow > 0, lastBatchSize > 1, !stopping else { return }
        let deadline = MonotonicCondition.now() + gatheringWindow
        while queue.count < lastBatchSize && !stopping {
            if !condition.wait(untilNanoseconds: deadline) { return }
        }
    }

    /// Moves queued appends into `batch`, up to the per-commit event and byte bounds (at
    /// least one append).
    private func takeBatch(into batch: inout [Pending]) {
        var events = 0
        var bytes = 0
        var taken = 0
        for pending in queue {
            if taken > 0
                && (events + pending.eventCount > maxEventsPerCommit || bytes + pending.byteCount > Self.maxBytesPerCommit)
            {
                break
            }
            batch.append(pending)
            events += pending.eventCount
            bytes += pending.byteCount
            taken += 1
        }
        if taken == queue.count {
            queue.removeAll(keepingCapacity: true)
        } else {
            queue.removeFirst(taken)
        }
    }

    private func commit(_ batch: [Pending]) {
        var newHead = head
        var newChecksum = lastChecksum
        var added = StreamIndexTail.Additions()
        var flushed = 0
        var outcomes: [Results] = []
        outcomes.reserveCapacity(batch.count)
        segment.reset()
        do {
            try environment.withWriteTransaction { txn in
                for pending in batch {
                    var results = Results()
                    results.reserveCapacity(pending.requests.count)
                    for request in pending.requests {
                        results.append(
                            try write(request, in: txn, head: &newHead, checksum: &newChecksum, added: &added)
                        )
                    }
                    outcomes.append(results)
                }
                if segment.count > 0 {
                    segment.finish(into: &scratch)
                    try txn.put(scratch, forKey: JournalLayout.eventKey(head + 1), in: events, options: .append)
                }
                // Past the threshold, each commit writes the oldest entries, a few times its own
                // count: the index keeps pace in small sorted slices, with no commit paying for
                // thousands at once (ADR 0005).
                let unindexed = indexTail.count + added.entries.count
                if unindexed >= indexFlushThreshold {
                    let slice = min(unindexed, max(4 * added.entries.count, indexFlushThreshold / 128, 1))
                    try flushIndex(in: txn, oldest: slice, including: added)
                    flushed = slice
                }
            }
        } catch {
            // The transaction was aborted: nothing of this batch is stored.
            let failure = LMDBJournal.journalError(error)
            for pending in batch {
                pending.continuation.resume(returning: Results(repeating: .failure(failure), count: pending.requests.count))
            }
            return
        }
        commits.add(1, ordering: .relaxed)
        committedEvents.add(Int(newHead - head), ordering: .relaxed)
        let size = Int(newHead - head)
        let bucket = min(Self.batchSizeBuckets - 1, size <= 1 ? 0 : Int.bitWidth - (size - 1).leadingZeroBitCount)
        batchSizes.withLock { $0[bucket] += 1 }
        head = newHead
        lastChecksum = newChecksum
        indexTail.merge(added)
        indexTail.dropIndexed(flushed)
        notifier.advance(to: newHead)
        for (pending, results) in zip(batch, outcomes) {
            pending.continuation.resume(returning: results)
        }
    }

    /// Adds one request's records to the commit's segment, or returns its conflict.
    ///
    /// Storage failures throw and abort the whole transaction; a conflict only fails its
    /// own request, since nothing of it has been added when the check fails.
    private func write(
        _ request: AppendRequest,
        in txn: borrowing WriteTransaction,
        head: inout UInt64,
        checksum: inout UInt32,
        added: inout StreamIndexTail.Additions
    ) throws -> Result<AppendResult, JournalError> {
        let stream = request.streamID
        let current = try added.heads[stream] ?? indexTail.heads[stream]
            ?? LMDBJournal.indexedVersion(of: stream, streams: streams, in: txn)
        guard request.expectedVersion.isSatisfied(byCurrentVersion: current) else {
            return .failure(.wrongExpectedVersion(stream, expected: request.expectedVersion, actual: current))
        }
        let first = head + 1
        var version = current
        for event in request.events {
            head += 1
            version += 1
            let position = head
            let previous = checksum
            segment.append { records in
                checksum = RecordCodec.encode(
                    position: position,
                    streamID: stream,
                    streamVersion: version,
                    event: event,
                    previousChecksum: previous,
                    appendingTo: &records
                )
            }
            added.entries.append(StreamIndexTail.Entry(streamID: stream, version: version, position: head))
        }
        added.heads[stream] = version
        return .success(AppendResult(firstPosition: first, lastPosition: head, streamVersion: version))
    }

    /// Writes the oldest `count` unindexed stream-index entries (the tail's, then this
    /// commit's), sorted by key for page locality, and records that the index now covers
    /// every position up to the last of them.
    private func flushIndex(
        in txn: borrowing WriteTransaction,
        oldest count: Int,
        including added: StreamIndexTail.Additions
    ) throws {
        guard count > 0 else { return }
        var keyed: [(key: [UInt8], position: UInt64)] = []
        keyed.reserveCapacity(count)
        var last: UInt64 = 0
        for entry in indexTail.entries.prefix(count) + added.entries.prefix(max(0, count - indexTail.count)) {
            keyed.append((JournalLayout.streamKey(entry.streamID, version: entry.version), entry.position))
            last = entry.position
        }
        keyed.sort { $0.key.lexicographicallyPrecedes($1.key) }
        for (key, position) in keyed {
            try txn.put(JournalLayout.eventKey(position), forKey: key, in: streams, options: .noOverwrite)
        }
        try txn.put(JournalLayout.eventKey(last), forKey: JournalLayout.indexedThroughKey, in: meta)
    }

    /// Flushes the stream index so that a journal closed cleanly has no unindexed tail.
    private func flushIndexForClose() {
        guard indexTail.count > 0 else { return }
        do {
            let count = indexTail.count
            try environment.withWriteTransaction { txn in
                try flushIndex(in: txn, oldest: count, including: StreamIndexTail.Additions())
            }
            indexTail.dropIndexed(count)
        } catch {
            // Harmless: the next open rebuilds the tail from the records themselves.
        }
    }
}
