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
    // `condition`; `head`, `lastChecksum` and `scratch` only on the writer thread. The
    // LMDB handles are immutable and used for writing only on the writer thread.

    typealias Results = [Result<AppendResult, JournalError>]

    private struct Pending {
        let requests: [AppendRequest]
        let eventCount: Int
        let continuation: UnsafeContinuation<Results, Never>
    }

    private let environment: Environment
    private let events: Database
    private let streams: Database
    private let maxEventsPerCommit: Int
    private let notifier: HeadNotifier

    private let condition = NSCondition()
    private var queue: [Pending] = []
    private var stopping = false
    private var finished = false

    /// Commits made and events they carried, for metrics and benchmarks.
    let commits = Atomic<Int>(0)
    let committedEvents = Atomic<Int>(0)

    private var head: UInt64
    private var lastChecksum: UInt32
    private var scratch: [UInt8] = []

    init(
        environment: Environment,
        events: Database,
        streams: Database,
        head: UInt64,
        lastChecksum: UInt32,
        maxEventsPerCommit: Int,
        notifier: HeadNotifier
    ) {
        self.environment = environment
        self.events = events
        self.streams = streams
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
        var results = Results(repeating: .failure(.closedJournal), count: requests.count)
        var valid: [AppendRequest] = []
        var validIndices: [Int] = []
        valid.reserveCapacity(requests.count)
        for (index, request) in requests.enumerated() {
            do {
                try request.validate()
                valid.append(request)
                validIndices.append(index)
            } catch {
                results[index] = .failure(error)
            }
        }
        guard !valid.isEmpty else { return results }
        let eventCount = valid.reduce(0) { $0 + $1.events.count }
        let committed = await withUnsafeContinuation { (continuation: UnsafeContinuation<Results, Never>) in
            condition.lock()
            if stopping {
                condition.unlock()
                continuation.resume(returning: Results(repeating: .failure(.closedJournal), count: valid.count))
                return
            }
            queue.append(Pending(requests: valid, eventCount: eventCount, continuation: continuation))
            condition.signal()
            condition.unlock()
        }
        if validIndices.count == requests.count { return committed }
        for (offset, index) in validIndices.enumerated() { results[index] = committed[offset] }
        return results
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
            while queue.isEmpty && !stopping { condition.wait() }
            if queue.isEmpty {
                finished = true
                condition.broadcast()
                condition.unlock()
                return
            }
            takeBatch(into: &batch)
            condition.unlock()
            commit(batch)
            batch.removeAll(keepingCapacity: true)
        }
    }

    /// Moves queued appends into `batch`, up to the per-commit event bound (at least one).
    private func takeBatch(into batch: inout [Pending]) {
        var events = 0
        var taken = 0
        for pending in queue {
            if taken > 0 && events + pending.eventCount > maxEventsPerCommit { break }
            batch.append(pending)
            events += pending.eventCount
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
        var outcomes: [Results] = []
        outcomes.reserveCapacity(batch.count)
        do {
            try environment.withWriteTransaction { txn in
                for pending in batch {
                    var results = Results()
                    results.reserveCapacity(pending.requests.count)
                    for request in pending.requests {
                        results.append(
                            try write(request, in: txn, head: &newHead, checksum: &newChecksum)
                        )
                    }
                    outcomes.append(results)
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
        head = newHead
        lastChecksum = newChecksum
        notifier.advance(to: newHead)
        for (pending, results) in zip(batch, outcomes) {
            pending.continuation.resume(returning: results)
        }
    }

    /// Writes one request inside the batch's transaction, or returns its conflict.
    ///
    /// Storage failures throw and abort the whole transaction; a conflict only fails its
    /// own request, since nothing of it has been written when the check fails.
    private func write(
        _ request: AppendRequest,
        in txn: borrowing WriteTransaction,
        head: inout UInt64,
        checksum: inout UInt32
    ) throws -> Result<AppendResult, JournalError> {
        let current = try LMDBJournal.currentVersion(of: request.streamID, streams: streams, in: txn)
        guard request.expectedVersion.isSatisfied(byCurrentVersion: current) else {
            return .failure(.wrongExpectedVersion(request.streamID, expected: request.expectedVersion, actual: current))
        }
        let first = head + 1
        var version = current
        var streamKey = JournalLayout.streamPrefix(request.streamID)
        let prefixLength = streamKey.count
        for event in request.events {
            head += 1
            version += 1
            checksum = RecordCodec.encode(
                position: head,
                streamID: request.streamID,
                streamVersion: version,
                event: event,
                previousChecksum: checksum,
                into: &scratch
            )
            let positionKey = JournalLayout.eventKey(head)
            try txn.put(scratch, forKey: positionKey, in: events, options: .append)
            streamKey.removeSubrange(prefixLength...)
            streamKey.appendBigEndian(version)
            try txn.put(positionKey, forKey: streamKey, in: streams, options: .noOverwrite)
        }
        return .success(AppendResult(firstPosition: first, lastPosition: head, streamVersion: version))
    }
}
