import Dispatch
import Journal
import Scheduling
import Synchronization

/// Folds a replay's events into a projection on several cores.
///
/// A task event changes only the part of the task table and the part of the run log that
/// hold its task (``TaskTable/part(of:)``), and the projection's totals (position, namespace
/// counts, inconsistencies). So each worker takes the parts whose number leaves its own
/// remainder by the number of workers, decodes and folds the events of their tasks in
/// journal order, and keeps its own totals; ``finish(into:)`` puts the parts back and adds
/// the totals up. Each part sees the same events in the same order as a fold on one core,
/// so the projection is the same (tested against ``Projection/apply(_:)``).
///
/// A projection whose due index is deferred (a replay from scratch) gets it built once from
/// the tasks afterwards. One that has its index (a snapshot's tail) keeps it: each worker
/// notes the due entries a task had before the first event it folds of it, and
/// ``finish(into:)`` updates the index with what each such task has at the end.
final class ParallelFold {
    /// The parts one worker folds, and its totals.
    struct Lane: Sendable {
        /// Parts `worker`, `worker + workers`, `worker + 2 × workers`, …
        var tables: [TaskTable.Part] = []
        var logs: [RunLog.Part] = []
        var namespaceDeltas: [String: Int] = [:]
        var inconsistencies = 0
        /// The due entries each task changed had before its first event in this fold (when
        /// the projection keeps its due index up to date).
        var dueBefore: [TaskID: [DueEntry]] = [:]
        /// The first event this worker could not fold; it folds nothing after it.
        var failure: ProjectionError?
        /// Room for a batch's lookups, kept from batch to batch.
        var found: [(record: Int32, hash: UInt64, slot: Int32)] = []
    }

    /// One worker's lane, locked by that worker alone while it folds a batch.
    private final class LaneBox: Sendable {
        let lane: Mutex<Lane>
        init(_ lane: Lane) { self.lane = Mutex(lane) }
    }

    let workers: Int
    private let retention: Int32
    private let tracksDue: Bool
    private let lanes: [LaneBox]
    private var position: UInt64

    /// Takes the parts out of `projection` (left empty until ``finish(into:)``) for
    /// `workers` workers (at least 2, at most the table's part count).
    init(taking projection: inout Projection, workers: Int) {
        tracksDue = !projection.dueIndexDeferred
        self.workers = max(2, min(workers, TaskTable.partCount))
        retention = projection.runLog.keeping
        position = projection.position
        var (tables, logs) = projection.takeParts()
        var lanes = Array(repeating: Lane(), count: self.workers)
        for number in tables.indices {
            // Moved, not copied: each part stays uniquely held and is changed in place.
            var table = TaskTable.Part()
            var log = RunLog.Part()
            swap(&table, &tables[number])
            swap(&log, &logs[number])
            lanes[number % self.workers].tables.append(table)
            lanes[number % self.workers].logs.append(log)
        }
        self.lanes = lanes.map(LaneBox.init)
    }

    /// Folds `batch`, records after the last one folded in position order (read in place:
    /// the call returns when every worker is done with them).
    func apply(_ batch: ArraySlice<BorrowedRecord>) throws(ProjectionError) {
        try advance(past: batch)
        let workers = self.workers
        let retention = self.retention
        let tracksDue = self.tracksDue
        let lanes = self.lanes
        var routing = Routing()
        routing.route(batch, workers: workers)
        let routed = routing
        DispatchQueue.concurrentPerform(iterations: workers) { worker in
            lanes[worker].lane.withLock { lane in
                Self.fold(batch, routing: routed, worker: worker, of: workers, keeping: retention, tracksDue: tracksDue, into: &lane)
            }
        }
        if let failure = lanes.compactMap({ $0.lane.withLock(\.failure) }).min(by: { $0.position < $1.position }) {
            throw failure
        }
    }

    /// Moves the fold's position past `records`, which must follow it in position order.
    private func advance(past records: ArraySlice<BorrowedRecord>) throws(ProjectionError) {
        for record in records {
            guard record.position > position else {
                throw ProjectionError(position: record.position, message: "event applied out of order (after \(position))")
            }
            position = record.position
        }
    }

    /// How many batches the reader may read ahead of the slowest worker.
    static let depth = 4

    /// Folds the batches `read` fills, in order, until it says to stop. Each worker folds on
    /// a thread of its own and takes the next batch as soon as it has folded its share of
    /// the one before, while `read` (on the calling thread) reads the batches after it, up to
    /// ``depth`` ahead of the slowest worker. So workers do not wait for each other at every
    /// batch, and the reading does not leave them idle (with ``apply(_:)``, a replay of ten
    /// million events spent about a tenth of its time reading while both workers waited).
    ///
    /// `read` fills the empty array it is given with the next batch (records after the last
    /// one folded, in position order) and returns whether to read on after it; an empty
    /// batch ends the fold too. Every record it hands out must stay valid until this returns.
    /// An error it throws ends the fold after the batches read before it are folded.
    func apply(batches read: (_ records: inout [BorrowedRecord]) throws -> Bool) throws {
        let pipe = BatchPipe(workers: workers, depth: Self.depth)
        let group = DispatchGroup()
        let workers = self.workers
        let retention = self.retention
        let tracksDue = self.tracksDue
        let lanes = self.lanes
        for worker in 0..<workers {
            // A queue of its own gets a thread of its own: the caller blocks one of Swift
            // concurrency's threads (as `concurrentPerform` did), and the workers must not
            // wait for a thread of the same pool.
            DispatchQueue(label: "almanac.replay.fold.\(worker)").async(group: group) {
                lanes[worker].lane.withLock { lane in
                    var sequence = 0
                    while let (batch, routing) = pipe.take(sequence, worker: worker) {
                        Self.fold(batch[...], routing: routing, worker: worker, of: workers, keeping: retention, tracksDue: tracksDue, into: &lane)
                        if lane.failure != nil { pipe.stop() }
                        pipe.folded(sequence)
                        sequence += 1
                    }
                }
            }
        }
        var failure: (any Error)?
        do {
            while !pipe.stopped {
                var (records, routing) = pipe.room()
                let more = try read(&records)
                try advance(past: records[...])
                // Each record's task is hashed once, here, where the reader has time to
                // spare: each worker then visits only its own records.
                routing.route(records[...], workers: workers)
                if !records.isEmpty { pipe.put(records, routing) }
                if !more || records.isEmpty { break }
            }
        } catch {
            failure = error
        }
        pipe.end()
        group.wait()
        // A worker's failure lies in a batch put before the reader stopped: it comes first.
        if let earliest = lanes.compactMap({ $0.lane.withLock(\.failure) }).min(by: { $0.position < $1.position }) {
            throw earliest
        }
        if let failure { throw failure }
    }

    /// Puts the parts back into `projection` with the totals of every lane, at the position
    /// of the last event folded.
    func finish(into projection: inout Projection) {
        var tables = Array(repeating: TaskTable.Part(), count: TaskTable.partCount)
        var logs = Array(repeating: RunLog.Part(), count: TaskTable.partCount)
        var namespaceDeltas: [String: Int] = [:]
        var inconsistencies = 0
        var dueBefore: [TaskID: [DueEntry]] = [:]
        for (worker, box) in lanes.enumerated() {
            box.lane.withLock { lane in
                for local in lane.tables.indices {
                    let number = worker + local * workers
                    swap(&tables[number], &lane.tables[local])
                    swap(&logs[number], &lane.logs[local])
                }
                namespaceDeltas.merge(lane.namespaceDeltas, uniquingKeysWith: +)
                inconsistencies += lane.inconsistencies
                dueBefore.merge(lane.dueBefore) { first, _ in first }  // each task is one lane's
                lane = Lane()
            }
        }
        projection.restoreParts(
            tables: tables, logs: logs, position: position,
            namespaceDeltas: namespaceDeltas, inconsistencies: inconsistencies
        )
        if tracksDue { projection.updateDueIndex(before: dueBefore) }
    }

    /// The hash a record's task is kept under (``Shards/rank(of:)``): of the id's bytes, or,
    /// when they are not valid UTF-8, of the string `String(decoding:as:)` makes of them, as
    /// for every other reader of the journal.
    @inline(__always)
    fileprivate static func hash(of streamID: UnsafeRawBufferPointer) -> UInt64 {
        if streamID.allSatisfy({ $0 < 0x80 }) { return Shards.rank(ofBytes: streamID) }
        let id = TaskID(String(decoding: streamID, as: UTF8.self))
        return id.rawValue.utf8.elementsEqual(streamID) ? Shards.rank(ofBytes: streamID) : Shards.rank(of: id)
    }

    /// One worker's share of a batch: the events of the tasks in its parts.
    private static func fold(
        _ batch: ArraySlice<BorrowedRecord>, routing: Routing, worker: Int, of workers: Int, keeping retention: Int32,
        tracksDue: Bool, into lane: inout Lane
    ) {
        guard lane.failure == nil else { return }
        // First each record's task is found, then the events are folded. The lookups of one
        // pass do not wait on each other, so the processor fetches many tasks' buckets and
        // states from memory at once, where folding would fetch them one at a time.
        var found = lane.found
        lane.found = []
        found.removeAll(keepingCapacity: true)
        defer { lane.found = found }
        let base = batch.startIndex
        for offset in routing.shares[worker] {
            let hash = routing.hashes[Int(offset)]
            // A stream id that is not valid UTF-8 is not found by its bytes here: the fold
            // below finds its task by the repaired string.
            let slot = lane.tables[TaskTable.part(hash: hash) / workers].slot(ofBytes: batch[base + Int(offset)].streamID, hash: hash)
            found.append((offset, hash, slot.map(Int32.init) ?? -1))
        }
        for (offset, hash, foundSlot) in found {
            let recorded = batch[base + Int(offset)]
            let local = TaskTable.part(hash: hash) / workers
            // A task the table holds lends its id: no string is made from the record's bytes.
            // (One created earlier in the batch was not there in the first pass.)
            var slot = foundSlot >= 0 ? Int(foundSlot) : nil
            let id: TaskID
            if let slot {
                id = lane.tables[local].states[slot].id
            } else {
                let made = TaskID(String(decoding: recorded.streamID, as: UTF8.self))  // repaired, if need be
                slot = lane.tables[local].slot(of: made, hash: hash)
                id = slot.map { lane.tables[local].states[$0].id } ?? made
            }
            if tracksDue, lane.dueBefore[id] == nil {
                lane.dueBefore[id] = slot.map { DueEntry.entries(of: lane.tables[local].states[$0]) } ?? []
            }
            let type = EventCodec.StoredType(bytes: recorded.type)
            let at = Instant(microsecondsSinceEpoch: recorded.recordedAt)
            // A run's end (nearly half of a journal) is folded from its bytes: no event, no strings.
            if let slot, let end = EventCodec.runEnd(type, schemaVersion: recorded.schemaVersion, payload: recorded.payload),
                let change = Projection.foldRunEnd(
                    end, at: at, position: recorded.position, streamVersion: recorded.streamVersion, hash: hash, slot: slot,
                    table: &lane.tables[local], log: &lane.logs[local]
                )
            {
                if change.inconsistent { lane.inconsistencies += 1 }
                continue
            }
            let event: TaskEvent
            do {
                event = try EventCodec.decode(
                    type, typeBytes: recorded.type, schemaVersion: recorded.schemaVersion, payload: recorded.payload,
                    taskID: id, at: at
                )
            } catch {
                lane.failure = ProjectionError(position: recorded.position, message: "cannot decode \(recorded.typeName): \(error)")
                return
            }
            let change = Projection.fold(
                event, position: recorded.position, streamVersion: recorded.streamVersion, hash: hash, slot: slot,
                table: &lane.tables[local], log: &lane.logs[local], keeping: retention, trackingDue: false
            )
            if change.inconsistent { lane.inconsistencies += 1 }
            if let namespace = change.namespace { lane.namespaceDeltas[namespace, default: 0] += change.namespaceDelta }
        }
    }
}

/// A batch's records sorted out by worker: each record's task hash (``Shards/rank(of:)``),
/// and the records of each worker's parts, in journal order (reserved streams left out).
/// Made once per batch, so no worker hashes the others' records to find its own.
struct Routing: Sendable {
    /// Each record's task hash, by its offset in the batch (0 for a reserved stream).
    var hashes: [UInt64] = []
    /// The offsets of each worker's records.
    var shares: [[Int32]] = []

    /// Sorts out `batch` for `workers` workers, keeping the arrays' room.
    mutating func route(_ batch: ArraySlice<BorrowedRecord>, workers: Int) {
        hashes.removeAll(keepingCapacity: true)
        if shares.count != workers { shares = Array(repeating: [], count: workers) }
        for worker in shares.indices { shares[worker].removeAll(keepingCapacity: true) }
        var offset: Int32 = 0
        for record in batch {
            defer { offset += 1 }
            guard !record.isReserved else {
                hashes.append(0)
                continue
            }
            let hash = ParallelFold.hash(of: record.streamID)
            hashes.append(hash)
            shares[TaskTable.part(hash: hash) % workers].append(offset)
        }
    }
}

/// Batches on their way from a replay's reader to every worker of a ``ParallelFold``: a ring
/// of slots, each free again once every worker has folded its batch. The arrays go back to
/// the reader to be filled again (a batch of 4,096 records is 352 KiB, which the allocator
/// would map afresh, with its page faults, each time one was made).
private final class BatchPipe: Sendable {
    private struct State {
        /// The batches in the ring, and how many workers have yet to fold each.
        var slots: [(records: [BorrowedRecord], routing: Routing, pending: Int)]
        /// Arrays whose batch every worker has folded, for the reader to fill again.
        var spare: [([BorrowedRecord], Routing)] = []
        /// How many batches were put in.
        var written = 0
    }

    private let state: Mutex<State>
    /// One per worker: the batches it may take.
    private let ready: [DispatchSemaphore]
    /// Slots free for the reader.
    private let free: DispatchSemaphore
    private let halted = Atomic(false)
    private let workers: Int

    init(workers: Int, depth: Int) {
        self.workers = workers
        state = Mutex(State(slots: Array(repeating: ([], Routing(), 0), count: depth)))
        ready = (0..<workers).map { _ in DispatchSemaphore(value: 0) }
        // Made empty and signalled: a semaphore released with a count below the one it was
        // made with traps, and the reader may end holding a slot it did not fill.
        free = DispatchSemaphore(value: 0)
        for _ in 0..<depth { free.signal() }
    }

    /// Whether a worker asked the reader to stop (it cannot fold on).
    var stopped: Bool { halted.load(ordering: .relaxed) }

    func stop() { halted.store(true, ordering: .relaxed) }

    /// An empty array to fill with the next batch, once a slot is free.
    func room() -> ([BorrowedRecord], Routing) {
        free.wait()
        var (records, routing) = state.withLock { $0.spare.popLast() } ?? ([], Routing())
        records.removeAll(keepingCapacity: true)
        return (records, routing)
    }

    /// Hands the next batch to every worker (in the slot ``room()`` made free).
    func put(_ records: [BorrowedRecord], _ routing: Routing) {
        state.withLock { state in
            state.slots[state.written % state.slots.count] = (records, routing, workers)
            state.written += 1
        }
        for semaphore in ready { semaphore.signal() }
    }

    /// Tells every worker that no batch follows those put in.
    func end() {
        for semaphore in ready { semaphore.signal() }
    }

    /// Batch number `sequence` once it is put in; nil once the batches have ended before it.
    func take(_ sequence: Int, worker: Int) -> ([BorrowedRecord], Routing)? {
        ready[worker].wait()
        return state.withLock { state in
            guard sequence < state.written else { return nil }
            let slot = state.slots[sequence % state.slots.count]
            return (slot.records, slot.routing)
        }
    }

    /// Marks batch number `sequence` folded by one more worker; its slot is free once every
    /// worker has.
    func folded(_ sequence: Int) {
        let freed = state.withLock { state in
            let index = sequence % state.slots.count
            state.slots[index].pending -= 1
            guard state.slots[index].pending == 0 else { return false }
            state.spare.append((state.slots[index].records, state.slots[index].routing))
            state.slots[index].records = []
            state.slots[index].routing = Routing()
            return true
        }
        if freed { free.signal() }
    }
}
