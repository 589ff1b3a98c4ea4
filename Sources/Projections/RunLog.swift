public import Scheduling

/// The recent attempts of every task: a fold of the run events, newest last, keeping at most
/// `retention` records per task in memory. Older runs stay in the journal.
public struct RunLog: Sendable, Hashable {
    /// How many records each task keeps.
    public let retention: Int
    /// The records by task, in parts as ``TaskTable`` keeps the tasks: each part grows on its
    /// own, so the first runs of hundreds of thousands of tasks never rehash them all at once.
    private var parts = Array(repeating: [TaskID: [RunRecord]](), count: TaskTable.partCount)

    /// Creates an empty run log.
    public init(retention: Int = 20) {
        self.retention = max(1, retention)
    }

    /// The task's recent records, oldest first.
    public func records(of task: TaskID) -> [RunRecord] { parts[TaskTable.part(of: task)][task] ?? [] }

    /// Applies one event.
    public mutating func apply(_ event: TaskEvent) {
        switch event.kind {
        case .runStarted(let start):
            append(RunRecord(
                run: start.run, occurrence: start.occurrence, scheduledAt: start.scheduledAt, dueAt: start.dueAt,
                startedAt: event.at, attempt: start.attempt, outcome: .running
            ), to: event.taskID)
        case .runSucceeded(let run, let outcome):
            update(run, of: event.taskID) { record in
                record.outcome = .succeeded
                record.finish(at: event.at, with: outcome)
            }
        case .runFailed(let run, let outcome, let interrupted):
            update(run, of: event.taskID) { record in
                record.outcome = interrupted ? .interrupted : .failed
                record.finish(at: event.at, with: outcome)
            }
        case .runRetryScheduled(let retry):
            update(RunID(retry.occurrence, attempt: retry.attempt - 1), of: event.taskID) { record in
                if record.outcome == .failed { record.outcome = .retrying }
            }
        case .occurrenceSkipped(let skip):
            var record = RunRecord(
                run: RunID(skip.occurrence, attempt: skip.attempt), occurrence: skip.occurrence,
                scheduledAt: skip.scheduledAt, dueAt: skip.scheduledAt, startedAt: event.at, attempt: skip.attempt,
                outcome: .skipped
            )
            record.finishedAt = event.at
            record.skipReason = skip.reason
            append(record, to: event.taskID)
        case .created, .updated, .paused, .resumed, .deleted, .runTriggered, .completed:
            break
        }
    }

    private mutating func append(_ record: RunRecord, to task: TaskID) {
        let part = TaskTable.part(of: task)
        guard let index = parts[part].index(forKey: task) else {
            parts[part][task] = [record]
            return
        }
        Self.append(record, to: &parts[part].values[index], keeping: retention)
    }

    private static func append(_ record: RunRecord, to records: inout [RunRecord], keeping retention: Int) {
        if records.count >= retention { records.removeFirst(records.count - retention + 1) }
        records.append(record)
    }

    private mutating func update(_ run: RunID, of task: TaskID, _ change: (inout RunRecord) -> Void) {
        let part = TaskTable.part(of: task)
        guard let index = parts[part].index(forKey: task) else { return }
        Self.update(run, in: &parts[part].values[index], change)
    }

    private static func update(_ run: RunID, in records: inout [RunRecord], _ change: (inout RunRecord) -> Void) {
        guard let index = records.lastIndex(where: { $0.run == run }) else { return }
        change(&records[index])
    }

    /// Replaces a task's records (when loading a snapshot).
    mutating func set(_ records: [RunRecord], for task: TaskID) { parts[TaskTable.part(of: task)][task] = records }

    /// Every task with records, in id order.
    var tasks: [TaskID] { parts.flatMap(\.keys).sorted() }

    /// Every task with records, in id order.
    public var taskIDs: [TaskID] { tasks }
}

extension RunRecord {
    mutating func finish(at instant: Instant, with outcome: RunOutcome) {
        finishedAt = instant
        statusCode = outcome.statusCode
        duration = outcome.duration
        error = outcome.error
        responseExcerpt = outcome.responseExcerpt
    }
}
