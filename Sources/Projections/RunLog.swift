public import Scheduling

/// The recent attempts of every task: a fold of the run events, keeping at most `retention`
/// records per task in memory. Older runs stay in the journal.
///
/// Records are kept compact, because a million tasks keep millions of them: no ids as text
/// (the run and occurrence ids are derived from the task, the scheduled instant and the
/// attempt; only a manual trigger's occurrence keeps its text), numbers in place of optionals,
/// and every record of a part in one array, each task's records chained newest to oldest.
/// A task's own array of records, grown by doubling, held twice the records on average.
/// A record's texts — error, response excerpt (up to 4 KiB each), skip reason — are not kept:
/// the journal holds them in the event that finished or skipped the attempt, and the record
/// keeps that event's position (ADR 0013).
public struct RunLog: Sendable {
    /// How many records each task keeps.
    public let retention: Int
    /// The records in parts as ``TaskTable`` keeps the tasks: each part grows on its own, so
    /// the first runs of hundreds of thousands of tasks never move them all at once.
    private var parts = Array(repeating: Part(), count: TaskTable.partCount)

    /// Creates an empty run log.
    public init(retention: Int = 20) {
        self.retention = max(1, min(retention, Int(Int32.max)))
    }

    /// The task's recent records, oldest first.
    public func records(of task: TaskID) -> [RunRecord] { entries(of: task).map { $0.record(of: task) } }

    /// Applies one event, recorded at journal position `position`, keeping its records under
    /// `task` (the same id as `event.taskID`, given to share one string among all that keep it).
    public mutating func apply(_ event: TaskEvent, position: UInt64, task: TaskID? = nil) {
        let task = task ?? event.taskID
        let hash = Shards.rank(of: task)
        parts[TaskTable.part(hash: hash)].apply(event, task: task, hash: hash, position: position, keeping: keeping)
    }

    /// The retention as the parts count records.
    var keeping: Int32 { Int32(retention) }

    /// Part `number`, read or changed in place.
    subscript(part number: Int) -> Part {
        _read { yield parts[number] }
        _modify { yield &parts[number] }
    }

    /// Takes every part out, leaving the log empty (for a fold on several cores);
    /// ``init(retention:parts:)`` puts them back.
    mutating func takeParts() -> [Part] {
        var taken = Array(repeating: Part(), count: parts.count)
        swap(&taken, &parts)
        return taken
    }

    /// A log of the parts given, `parts[n]` holding the records of the tasks of part n.
    init(retention: Int, parts: [Part]) {
        precondition(parts.count == TaskTable.partCount, "a run log has \(TaskTable.partCount) parts")
        self.init(retention: retention)
        self.parts = parts
    }

    /// Part `number` of the log.
    func part(_ number: Int) -> Part { parts[number] }

    /// The task's records in their compact form, oldest first.
    func entries(of task: TaskID) -> [Kept] { parts[TaskTable.part(of: task)].entries(of: task) }

    /// Every task with records, in id order.
    var tasks: [TaskID] { parts.flatMap { $0.chains.map(\.task) }.sorted() }

    /// Every task with records, in id order.
    public var taskIDs: [TaskID] { tasks }

    /// The bytes each kept record takes in the log's arrays (a manual trigger's occurrence
    /// text comes on top).
    public static var bytesPerRecord: Int { MemoryLayout<Entry>.stride }

    /// The number of records kept.
    public var recordCount: Int { parts.reduce(0) { $0 + $1.entries.count } }
}

extension RunLog: Equatable {
    /// Logs are equal when they keep the same records for the same tasks (where in their
    /// arrays the records sit does not matter).
    public static func == (lhs: RunLog, rhs: RunLog) -> Bool {
        guard lhs.retention == rhs.retention else { return false }
        for (left, right) in zip(lhs.parts, rhs.parts) {
            guard left.chains.count == right.chains.count else { return false }
            for chain in left.chains {
                guard right.chain(of: chain.task) != nil, left.entries(of: chain.task) == right.entries(of: chain.task) else {
                    return false
                }
            }
        }
        return true
    }
}

extension RunLog {
    /// Records of the tasks of one part.
    struct Part: Sendable {
        /// Applies one event of `task` (a task of this part, whose ``Shards/rank(of:)`` is
        /// `hash`), recorded at journal position `position`, keeping at most `retention`
        /// records of it.
        mutating func apply(_ event: TaskEvent, task: TaskID, hash: UInt64, position: UInt64, keeping retention: Int32) {
            switch event.kind {
            case .runStarted(let start):
                append(Kept(
                    task: task, occurrence: start.occurrence, scheduledAt: start.scheduledAt, dueAt: start.dueAt,
                    startedAt: event.at, attempt: start.attempt, outcome: .running
                ), to: task, hash: hash, keeping: retention)
            case .runSucceeded(let run, let outcome):
                update(run, of: task, hash: hash) { entry in
                    entry.outcome = .succeeded
                    entry.finish(at: event.at, with: outcome, position: position)
                }
            case .runFailed(let run, let outcome, let interrupted):
                update(run, of: task, hash: hash) { entry in
                    entry.outcome = interrupted ? .interrupted : .failed
                    entry.finish(at: event.at, with: outcome, position: position)
                }
            case .runRetryScheduled(let retry):
                update(RunID(retry.occurrence, attempt: retry.attempt - 1), of: task, hash: hash) { entry in
                    if entry.outcome == .failed { entry.outcome = .retrying }
                }
            case .occurrenceSkipped(let skip):
                var kept = Kept(
                    task: task, occurrence: skip.occurrence, scheduledAt: skip.scheduledAt, dueAt: skip.scheduledAt,
                    startedAt: event.at, attempt: skip.attempt, outcome: .skipped
                )
                kept.entry.finishedAt = event.at.microsecondsSinceEpoch
                kept.entry.detail = position  // the skip reason
                append(kept, to: task, hash: hash, keeping: retention)
            case .created, .updated, .paused, .resumed, .deleted, .runTriggered, .completed:
                break
            }
        }

        /// Records the end of `run` of `task` read in place (``StoredRunEnd``), as
        /// ``apply(_:task:hash:position:keeping:)`` records the event it was read from.
        mutating func finish(_ run: RunID, of task: TaskID, hash: UInt64, end: StoredRunEnd, at instant: Instant, position: UInt64) {
            let outcome: RunRecord.Outcome = switch end.result {
            case .succeeded: .succeeded
            case .interrupted: .interrupted
            case .failed, .skipped: .failed
            }
            update(run, of: task, hash: hash) { entry in
                entry.outcome = outcome
                entry.finish(at: instant, statusCode: end.statusCode, duration: end.duration, hasDetail: end.hasDetail, position: position)
            }
        }

        /// Changes the newest record of the run `run`, if the part still holds it.
        private mutating func update(_ run: RunID, of task: TaskID, hash: UInt64, _ change: (inout Entry) -> Void) {
            guard let (occurrence, attempt) = RunIDText.split(run) else { return }
            update(task, hash: hash, occurrence: occurrence, attempt: attempt, change)
        }

        /// Each task with records: its newest record and how many it keeps (never removed).
        private(set) var chains: ContiguousArray<Chain> = []
        /// The slots of ``chains`` by task.
        private var chainIndex = SlotIndex()
        /// The records of every task of the part.
        var entries: ContiguousArray<Entry> = []
        /// The occurrence text of each record that keeps one (``Entry/irregular``), by slot:
        /// a manual trigger's; scheduled occurrences are derived.
        var occurrences: [Int32: String] = [:]

        /// The slot in ``chains`` of `task`'s chain, whose ``Shards/rank(of:)`` is `hash`.
        @inline(__always)
        private func chainSlot(of task: TaskID, hash: UInt64) -> Int? {
            chains.withUnsafeBufferPointer { chains in
                chainIndex.find(hash) { chains[Int($0)].task == task }.map(Int.init)
            }
        }

        /// `task`'s chain, if it has records.
        func chain(of task: TaskID) -> Chain? { chainSlot(of: task, hash: Shards.rank(of: task)).map { chains[$0] } }

        /// Makes room for `chains` tasks with records and `records` records in all.
        mutating func reserveCapacity(chains chainCount: Int, records recordCount: Int) {
            chains.reserveCapacity(chainCount)
            chainIndex = SlotIndex(minimumCapacity: chainCount)
            for (slot, chain) in chains.enumerated() { chainIndex.insert(Shards.rank(of: chain.task), slot: Int32(slot)) }
            entries.reserveCapacity(recordCount)
        }

        /// Starts `task`'s chain.
        private mutating func addChain(_ chain: Chain, hash: UInt64) {
            chainIndex.insert(hash, slot: Int32(chains.count))
            chains.append(chain)
        }

        /// The task's records, oldest first.
        func entries(of task: TaskID) -> [Kept] {
            guard let chain = chain(of: task) else { return [] }
            var found: [Kept] = []
            found.reserveCapacity(Int(chain.count))
            var slot = chain.newest
            while slot >= 0 {
                let entry = entries[Int(slot)]
                found.append(Kept(entry: entry, occurrence: entry.irregular ? occurrences[slot] : nil))
                slot = entry.older
            }
            found.reverse()
            return found
        }

        /// Gives a task with no records yet the records `records`, oldest first (at most the
        /// retention: a snapshot is read with the retention of the log it fills).
        mutating func setRecords(_ records: some Collection<Kept>, of task: TaskID) {
            let hash = Shards.rank(of: task)
            guard !records.isEmpty, chainSlot(of: task, hash: hash) == nil else { return }
            var older: Int32 = -1
            for kept in records {
                var entry = kept.entry
                entry.older = older
                older = Int32(entries.count)
                store(entry, occurrence: kept.occurrence, at: older)
            }
            addChain(Chain(task: task, newest: older, count: Int32(records.count)), hash: hash)
        }

        /// Writes `entry` into `slot` (the end of the array: a new one), its occurrence text
        /// beside it when it keeps one.
        private mutating func store(_ entry: Entry, occurrence: String?, at slot: Int32) {
            var entry = entry
            entry.irregular = occurrence != nil
            if let occurrence {
                occurrences[slot] = occurrence
            } else if !occurrences.isEmpty {
                occurrences.removeValue(forKey: slot)
            }
            if Int(slot) == entries.count {
                if entries.count == entries.capacity { entries.reserveCapacity(TaskTable.grownCapacity(entries.count)) }
                entries.append(entry)
            } else {
                entries[Int(slot)] = entry
            }
        }

        mutating func append(_ kept: Kept, to task: TaskID, hash: UInt64, keeping retention: Int32) {
            var entry = kept.entry
            guard let index = chainSlot(of: task, hash: hash) else {
                entry.older = -1
                addChain(Chain(task: task, newest: Int32(entries.count), count: 1), hash: hash)
                store(entry, occurrence: kept.occurrence, at: Int32(entries.count))
                return
            }
            var chain = chains[index]
            entry.older = chain.newest
            if chain.count < retention {
                chain.newest = Int32(entries.count)
                chain.count += 1
                store(entry, occurrence: kept.occurrence, at: Int32(entries.count))
            } else {
                // Full: the oldest record's slot takes the new one, and the one before the
                // oldest becomes the end of the chain.
                var slot = chain.newest
                var newer: Int32 = -1
                while entries[Int(slot)].older >= 0 {
                    newer = slot
                    slot = entries[Int(slot)].older
                }
                if newer >= 0 {
                    entries[Int(newer)].older = -1
                } else {
                    entry.older = -1  // a retention of 1: the only record is replaced
                }
                store(entry, occurrence: kept.occurrence, at: slot)
                chain.newest = slot
            }
            chains[index] = chain
        }

        mutating func update(
            _ task: TaskID, hash: UInt64, occurrence: Substring.UTF8View, attempt: Int, _ change: (inout Entry) -> Void
        ) {
            guard let index = chainSlot(of: task, hash: hash) else { return }
            // The scheduled instant the text names, read once: a record that keeps no text
            // is that occurrence when its instant is this one.
            let scheduled = OccurrenceText.scheduledInstant(occurrence, of: task)
            var slot = chains[index].newest
            while slot >= 0 {
                let entry = entries[Int(slot)]
                let same = entry.irregular
                    ? occurrences[slot].map { $0.utf8.elementsEqual(occurrence) } ?? false
                    : scheduled == entry.scheduledAt
                if same, Int(entry.attempt) == attempt {
                    change(&entries[Int(slot)])
                    return
                }
                slot = entry.older
            }
        }
    }

    /// Whose records a chain holds, where they start, and how many there are.
    struct Chain: Sendable {
        let task: TaskID
        var newest: Int32
        var count: Int32
    }

    /// A record as the log shows it: the compact entry and, for a record that keeps one, its
    /// occurrence text.
    struct Kept: Sendable, Equatable {
        var entry: Entry
        var occurrence: String?

        init(entry: Entry, occurrence: String?) {
            self.entry = entry
            self.occurrence = occurrence
        }

        /// A new record of `task`'s attempt `attempt` of `occurrence`: its text is kept only
        /// when it is not the task's scheduled occurrence at `scheduledAt`.
        init(
            task: TaskID, occurrence: OccurrenceID, scheduledAt: Instant, dueAt: Instant, startedAt: Instant,
            attempt: Int, outcome: RunRecord.Outcome
        ) {
            let scheduled = scheduledAt.microsecondsSinceEpoch
            self.occurrence = OccurrenceText.isScheduled(occurrence.rawValue.utf8[...], of: task, at: scheduled)
                ? nil : occurrence.rawValue
            entry = Entry(
                detail: 0, scheduledAt: scheduled, dueAt: dueAt.microsecondsSinceEpoch,
                startedAt: startedAt.microsecondsSinceEpoch, finishedAt: .min, duration: .min,
                attempt: Int32(clamping: attempt), statusCode: .min, outcome: outcome
            )
        }

        func record(of task: TaskID) -> RunRecord { entry.record(of: task, occurrence: occurrence) }
    }

    /// One record, compact: 64 bytes, with no allocation. Its texts (error, response excerpt,
    /// skip reason) stay in the journal: the record keeps the position of the event that
    /// holds them (``RunRecord/withDetails(_:from:)``). A manual trigger's occurrence text is
    /// kept beside the records of its part (``Part/occurrences``).
    struct Entry: Sendable, Equatable {
        /// The journal position of the event holding the record's error, response excerpt or
        /// skip reason; 0: none.
        var detail: UInt64 = 0
        /// Instants in microseconds since the epoch.
        var scheduledAt: Int64
        var dueAt: Int64
        var startedAt: Int64
        /// `Int64.min`: not finished.
        var finishedAt = Int64.min
        /// Microseconds; `Int64.min`: none.
        var duration = Int64.min
        var attempt: Int32
        /// `Int32.min`: none.
        var statusCode = Int32.min
        /// The slot of the task's next older record; -1 at the oldest. Not part of equality.
        var older: Int32 = -1
        var outcome: RunRecord.Outcome
        /// Whether the part keeps this record's occurrence text (``Part/occurrences``). Not
        /// part of equality (``Kept`` compares the text).
        var irregular = false

        init(
            detail: UInt64, scheduledAt: Int64, dueAt: Int64, startedAt: Int64,
            finishedAt: Int64, duration: Int64, attempt: Int32, statusCode: Int32, outcome: RunRecord.Outcome
        ) {
            self.detail = detail
            self.scheduledAt = scheduledAt
            self.dueAt = dueAt
            self.startedAt = startedAt
            self.finishedAt = finishedAt
            self.duration = duration
            self.attempt = attempt
            self.statusCode = statusCode
            self.outcome = outcome
        }

        /// Finishes the attempt with `result`, recorded at journal position `position`.
        mutating func finish(at instant: Instant, with result: RunOutcome, position: UInt64) {
            finish(
                at: instant, statusCode: result.statusCode, duration: result.duration,
                hasDetail: result.error != nil || result.responseExcerpt != nil, position: position
            )
        }

        /// Finishes the attempt; `hasDetail`: its outcome has an error or a response excerpt,
        /// which the event at `position` keeps.
        mutating func finish(at instant: Instant, statusCode code: Int?, duration took: Duration?, hasDetail: Bool, position: UInt64) {
            finishedAt = instant.microsecondsSinceEpoch
            statusCode = code.map { Int32(clamping: $0) } ?? .min
            duration = took.map(\.wholeMicroseconds) ?? .min
            detail = hasDetail ? position : 0
        }

        /// The record of `task`, whose occurrence text is `occurrence` when it keeps one.
        func record(of task: TaskID, occurrence: String?) -> RunRecord {
            let scheduled = Instant(microsecondsSinceEpoch: scheduledAt)
            var record = RunRecord(
                task: task,
                occurrence: occurrence.map(OccurrenceID.init(rawValue:)) ?? .scheduled(task, at: scheduled),
                scheduledAt: scheduled, dueAt: Instant(microsecondsSinceEpoch: dueAt),
                startedAt: Instant(microsecondsSinceEpoch: startedAt), attempt: Int(attempt), outcome: outcome
            )
            if finishedAt != .min { record.finishedAt = Instant(microsecondsSinceEpoch: finishedAt) }
            if duration != .min { record.duration = .microseconds(duration) }
            if statusCode != .min { record.statusCode = Int(statusCode) }
            if detail != 0 { record.detailPosition = detail }
            return record
        }

        static func == (lhs: Entry, rhs: Entry) -> Bool {
            lhs.detail == rhs.detail
                && lhs.scheduledAt == rhs.scheduledAt && lhs.dueAt == rhs.dueAt && lhs.startedAt == rhs.startedAt
                && lhs.finishedAt == rhs.finishedAt && lhs.duration == rhs.duration && lhs.attempt == rhs.attempt
                && lhs.statusCode == rhs.statusCode && lhs.outcome == rhs.outcome
        }
    }
}
