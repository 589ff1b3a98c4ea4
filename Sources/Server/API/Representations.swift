import Access
import Foundation
public import Journal
public import Projections
public import Scheduling

/// The API's JSON forms of tasks, runs and events. `almanac replay --format json` prints the
/// same task objects, so the two can be compared.
public enum Representation {
    /// The task object of `GET /v1/tasks/{id}`, serialized.
    public static func taskJSON(_ state: TaskState) -> [UInt8] { task(state).bytes }

    /// A journal event as `GET /v1/events` shows it, serialized.
    public static func eventJSON(_ recorded: RecordedEvent) -> [UInt8] { event(recorded).bytes }

    /// A run as `GET /v1/runs` shows it, serialized.
    public static func runJSON(_ record: RunRecord, task: TaskID) -> [UInt8] { run(record, task: task).bytes }

    static func task(_ state: TaskState) -> JSONOut {
        let definition = state.definition
        var fields: [(String, JSONOut)] = [
            ("id", .string(state.id.rawValue)),
            ("namespace", .string(definition.namespace)),
            ("name", .string(definition.name)),
            ("description", .string(definition.description)),
            ("labels", .object(definition.labels.sorted { $0.key < $1.key }.map { ($0.key, .string($0.value)) })),
            ("schedule", schedule(definition.schedule)),
            ("action", action(definition.action)),
            ("retry", .object([
                ("maxAttempts", .int(definition.retry.maxAttempts)),
                ("initialBackoff", .string(DurationText.format(definition.retry.initialBackoff))),
                ("maxBackoff", .string(DurationText.format(definition.retry.maxBackoff))),
                ("multiplier", .double(definition.retry.multiplier)),
            ])),
            ("overlap", .string(definition.overlap.rawValue)),
            ("misfire", .string(definition.misfire.name)),
        ]
        if case .runAll(let limit) = definition.misfire { fields.append(("misfireLimit", .int(limit))) }
        fields += [
            ("status", .string(state.status.rawValue)),
            ("version", .uint(state.version)),
            ("nextRunAt", nextRun(state).map { .string($0.rfc3339) } ?? .null),
            ("lastRun", state.lastRun.map { lastRun($0, of: state.id) } ?? .null),
            ("createdAt", .string(state.createdAt.rfc3339)),
            ("updatedAt", .string(state.updatedAt.rfc3339)),
            ("counts", .object([
                ("runs", .int(state.counts.runs)),
                ("succeeded", .int(state.counts.succeeded)),
                ("failed", .int(state.counts.failed)),
                ("skipped", .int(state.counts.skipped)),
            ])),
            ("running", .int(state.inFlight.count)),
        ]
        return .object(fields)
    }

    /// When the task will next run: its next occurrence, or an earlier pending retry or trigger.
    static func nextRun(_ state: TaskState) -> Instant? {
        switch state.status {
        case .deleted, .completed: return nil
        case .paused: return state.pending.values.filter { $0.kind == .manual }.map(\.dueAt).min()
        case .active: return ([state.nextDueAt].compactMap { $0 } + state.pending.values.map(\.dueAt)).min()
        }
    }

    static func schedule(_ schedule: Schedule) -> JSONOut {
        var fields: [(String, JSONOut)] = []
        switch schedule.kind {
        case .cron(let cron):
            fields = [("cron", .string(cron.expression.source)), ("timeZone", .string(cron.timeZoneIdentifier))]
        case .once(let at):
            fields = [("at", .string(at.rfc3339))]
        case .interval(let every, let anchor):
            fields = [("every", .string(DurationText.format(every)))]
            if anchor != (schedule.startAt ?? Instant(microsecondsSinceEpoch: 0)) {
                fields.append(("anchor", .string(anchor.rfc3339)))
            }
        }
        if let startAt = schedule.startAt { fields.append(("startAt", .string(startAt.rfc3339))) }
        if let endAt = schedule.endAt { fields.append(("endAt", .string(endAt.rfc3339))) }
        return .object(fields)
    }

    static func action(_ action: WebhookAction) -> JSONOut {
        var fields: [(String, JSONOut)] = [
            ("url", .string(action.url)),
            ("method", .string(action.method)),
            // A secret's value is never shown: `{"secret": true}`, which a PUT reads as "keep it".
            ("headers", .object(action.headers.map { header in
                switch header.value {
                case .plain(let text): (header.name, .string(text))
                case .sealed: (header.name, .object([("secret", .bool(true))]))
                }
            })),
        ]
        if action.signingSecret != nil { fields.append(("signingSecret", .object([("secret", .bool(true))]))) }
        if let body = action.body { fields.append(("body", .string(body))) }
        fields.append(("timeout", .string(DurationText.format(action.timeout))))
        return .object(fields)
    }

    static func lastRun(_ last: LastRun, of task: TaskID) -> JSONOut {
        .object([
            ("runId", .string(last.run(of: task).rawValue)),
            ("outcome", .string(last.result.rawValue)),
            ("at", .string(last.at.rfc3339)),
            ("statusCode", last.statusCode.map { .int($0) } ?? .null),
        ])
    }

    static func milliseconds(_ duration: Duration) -> JSONOut {
        .double(Double(duration.wholeMicroseconds) / 1000)
    }

    static func run(_ record: RunRecord, task: TaskID) -> JSONOut {
        .object([
            ("id", .string(record.run.rawValue)),
            ("taskId", .string(task.rawValue)),
            ("occurrenceId", .string(record.occurrence.rawValue)),
            ("scheduledAt", .string(record.scheduledAt.rfc3339)),
            ("dueAt", .string(record.dueAt.rfc3339)),
            ("startedAt", .string(record.startedAt.rfc3339)),
            ("finishedAt", record.finishedAt.map { .string($0.rfc3339) } ?? .null),
            ("latenessMs", record.outcome == .skipped ? .null : milliseconds(record.lateness)),
            ("durationMs", record.duration.map(milliseconds) ?? .null),
            ("attempt", .int(record.attempt)),
            ("outcome", .string(record.outcome.rawValue)),
            ("statusCode", record.statusCode.map { .int($0) } ?? .null),
            ("error", .optional(record.error)),
            ("responseExcerpt", .optional(record.responseExcerpt)),
            ("skipReason", .optional(record.skipReason?.rawValue)),
        ])
    }

    /// A journal event with its envelope and decoded data.
    static func event(_ recorded: RecordedEvent) -> JSONOut {
        var fields: [(String, JSONOut)] = [
            ("position", .uint(recorded.position)),
            ("taskId", .string(recorded.streamID.rawValue)),
            ("version", .uint(recorded.streamVersion)),
            ("type", .string(recorded.type)),
            ("schemaVersion", .int(Int(recorded.schemaVersion))),
            ("recordedAt", .string(Instant(microsecondsSinceEpoch: recorded.recordedAt).rfc3339)),
        ]
        if recorded.streamID == AccessEvent.streamID {
            // Token events: who issued or revoked which token (never its hash).
            if let event = try? AccessEventCodec.decode(recorded) {
                fields.append(("actor", .string(event.actor)))
                fields.append(("reason", .optional(event.reason)))
                switch event.kind {
                case .tokenCreated(let token):
                    fields.append(("data", .object([
                        ("tokenId", .string(token.id)), ("name", .string(token.name)), ("role", .string(token.role.rawValue)),
                        ("namespace", .optional(token.namespace)),
                    ])))
                case .tokenRevoked(let id):
                    fields.append(("data", .object([("tokenId", .string(id))])))
                }
            } else {
                fields.append(("actor", .null))
                fields.append(("reason", .null))
                fields.append(("data", .object([("undecodable", .string(recorded.type))])))
            }
            return .object(fields)
        }
        do {
            let event = try EventCodec.decode(
                type: recorded.type, schemaVersion: recorded.schemaVersion, payload: recorded.payload,
                taskID: TaskID(recorded.streamID.rawValue), at: Instant(microsecondsSinceEpoch: recorded.recordedAt)
            )
            fields.append(("actor", .string(event.actor)))
            fields.append(("reason", .optional(event.reason)))
            fields.append(("data", data(event.kind)))
        } catch {
            fields.append(("actor", .null))
            fields.append(("reason", .null))
            fields.append(("data", .object([("undecodable", .string("\(error)"))])))
        }
        return .object(fields)
    }

    static func data(_ kind: TaskEvent.Kind) -> JSONOut {
        func instant(_ value: Instant?) -> JSONOut { value.map { .string($0.rfc3339) } ?? .null }
        func outcome(_ run: RunID, _ outcome: RunOutcome) -> [(String, JSONOut)] {
            [
                ("runId", .string(run.rawValue)),
                ("statusCode", outcome.statusCode.map { .int($0) } ?? .null),
                ("durationMs", outcome.duration.map(milliseconds) ?? .null),
                ("error", .optional(outcome.error)),
                ("responseExcerpt", .optional(outcome.responseExcerpt)),
            ]
        }
        switch kind {
        case .created(let definition, let next), .updated(let definition, let next):
            var fields: [(String, JSONOut)] = [
                ("name", .string(definition.name)),
                ("schedule", schedule(definition.schedule)),
                ("action", action(definition.action)),
                ("nextDueAt", instant(next)),
            ]
            fields.insert(("labels", .object(definition.labels.sorted { $0.key < $1.key }.map { ($0.key, .string($0.value)) })), at: 1)
            return .object(fields)
        case .paused, .deleted, .completed:
            return .object([])
        case .resumed(let next):
            return .object([("nextDueAt", instant(next))])
        case .runTriggered(let trigger, let occurrence):
            return .object([("triggerId", .string(trigger)), ("occurrenceId", .string(occurrence.rawValue))])
        case .runStarted(let start):
            return .object([
                ("runId", .string(start.run.rawValue)),
                ("occurrenceId", .string(start.occurrence.rawValue)),
                ("scheduledAt", .string(start.scheduledAt.rfc3339)),
                ("dueAt", .string(start.dueAt.rfc3339)),
                ("attempt", .int(start.attempt)),
                ("kind", .string(start.occurrenceKind.rawValue)),
                ("nextDueAt", instant(start.nextDueAt)),
            ])
        case .runSucceeded(let run, let result):
            return .object(outcome(run, result))
        case .runFailed(let run, let result, let interrupted):
            return .object(outcome(run, result) + [("interrupted", .bool(interrupted))])
        case .runRetryScheduled(let retry):
            return .object([
                ("occurrenceId", .string(retry.occurrence.rawValue)),
                ("scheduledAt", .string(retry.scheduledAt.rfc3339)),
                ("attempt", .int(retry.attempt)),
                ("dueAt", .string(retry.dueAt.rfc3339)),
                ("kind", .string(retry.occurrenceKind.rawValue)),
            ])
        case .occurrenceSkipped(let skip):
            return .object([
                ("occurrenceId", .string(skip.occurrence.rawValue)),
                ("scheduledAt", .string(skip.scheduledAt.rfc3339)),
                ("attempt", .int(skip.attempt)),
                ("reason", .string(skip.reason.rawValue)),
                ("kind", .string(skip.occurrenceKind.rawValue)),
                ("nextDueAt", instant(skip.nextDueAt)),
            ])
        }
    }
}
