import Foundation

/// Turns task events into stored (type name, schema version, payload) and back.
///
/// The payload is a compact binary form (``BinaryWriter``): decoding, not storage, is what
/// replay pays for, and a hand-written binary codec is an order of magnitude cheaper than
/// JSON. The task id is the journal stream and the instant is the journal's recorded-at, so
/// neither is repeated in the payload. Layouts are in `docs/events.md`.
public enum EventCodec {
    /// The schema version event types are written with today, except `TaskCreated` and
    /// `TaskUpdated` (``definitionSchemaVersion``).
    public static let currentSchemaVersion: UInt16 = 1
    /// `TaskCreated` and `TaskUpdated` v3 mark each header plain or sealed and end the
    /// definition with the optional sealed signing secret; v2 ended with the namespace; v1
    /// (no namespace) is read as the default namespace.
    public static let definitionSchemaVersion: UInt16 = 3

    /// The stored form of an event.
    public struct Encoded: Sendable, Hashable {
        /// The event's stable type name.
        public let type: String
        /// The payload's schema version.
        public let schemaVersion: UInt16
        /// The payload.
        public let payload: [UInt8]
    }

    /// Encodes an event.
    public static func encode(_ event: TaskEvent) -> Encoded {
        var writer = BinaryWriter()
        writer.write(event.actor)
        writer.write(event.reason) { $0.write($1) }
        switch event.kind {
        case .created(let definition, let next), .updated(let definition, let next):
            writeDefinition(definition, to: &writer)
            writer.write(next) { $0.write($1) }
        case .paused, .deleted, .completed:
            break
        case .resumed(let next):
            writer.write(next) { $0.write($1) }
        case .runTriggered(let trigger, let occurrence):
            writer.write(trigger)
            writer.write(occurrence.rawValue)
        case .runStarted(let start):
            writeRunStart(start, to: &writer)
        case .runSucceeded(let run, let outcome):
            writer.write(run.rawValue)
            writeOutcome(outcome, to: &writer)
        case .runFailed(let run, let outcome, let interrupted):
            writer.write(run.rawValue)
            writeOutcome(outcome, to: &writer)
            writer.write(interrupted)
        case .runRetryScheduled(let retry):
            writer.write(retry.occurrence.rawValue)
            writer.write(retry.attempt)
            writer.write(retry.scheduledAt)
            writer.write(retry.dueAt)
            writer.write(retry.occurrenceKind == .manual)
        case .occurrenceSkipped(let skip):
            writer.write(skip.occurrence.rawValue)
            writer.write(skip.attempt)
            writer.write(skip.scheduledAt)
            writer.write(skip.reason.rawValue)
            writer.write(skip.occurrenceKind == .manual)
            writer.write(skip.nextDueAt) { $0.write($1) }
        }
        let version: UInt16
        switch event.kind {
        case .created, .updated: version = definitionSchemaVersion
        default: version = currentSchemaVersion
        }
        return Encoded(type: event.kind.typeName, schemaVersion: version, payload: writer.bytes)
    }

    /// Decodes a stored event of `taskID` recorded at `at`.
    public static func decode(
        type: String,
        schemaVersion: UInt16,
        payload: [UInt8],
        taskID: TaskID,
        at: Instant
    ) throws(EventDecodingError) -> TaskEvent {
        let result = payload.withUnsafeBytes { raw in
            Result { () throws(EventDecodingError) -> TaskEvent in
                try decode(type: type, schemaVersion: schemaVersion, payload: raw, taskID: taskID, at: at)
            }
        }
        return try result.get()
    }

    /// Decodes a stored event from borrowed bytes.
    public static func decode(
        type: String,
        schemaVersion: UInt16,
        payload: UnsafeRawBufferPointer,
        taskID: TaskID,
        at: Instant
    ) throws(EventDecodingError) -> TaskEvent {
        try decode(StoredType(rawValue: type), named: { type }, schemaVersion: schemaVersion, payload: payload, taskID: taskID, at: at)
    }

    /// Decodes a stored event whose type name is given as its UTF-8 bytes (a journal record
    /// read in place), already matched to `type` (``StoredType/init(bytes:)``; nil: a type
    /// this build does not know), without making a string of it.
    package static func decode(
        _ type: StoredType?,
        typeBytes: UnsafeRawBufferPointer,
        schemaVersion: UInt16,
        payload: UnsafeRawBufferPointer,
        taskID: TaskID,
        at: Instant
    ) throws(EventDecodingError) -> TaskEvent {
        try decode(
            type, named: { String(decoding: typeBytes, as: UTF8.self) },
            schemaVersion: schemaVersion, payload: payload, taskID: taskID, at: at
        )
    }

    /// The stored type names, each as text and as bytes.
    package enum StoredType: String, CaseIterable {
        case taskCreated = "TaskCreated", taskUpdated = "TaskUpdated", taskPaused = "TaskPaused"
        case taskResumed = "TaskResumed", taskDeleted = "TaskDeleted", taskCompleted = "TaskCompleted"
        case runTriggered = "RunTriggered", runStarted = "RunStarted", runSucceeded = "RunSucceeded"
        case runFailed = "RunFailed", runRetryScheduled = "RunRetryScheduled", occurrenceSkipped = "OccurrenceSkipped"

        /// Every name's bytes, by case, the most frequent in a journal first (runs' starts and
        /// outcomes are nine events in ten).
        private static let names: [(StoredType, [UInt8])] = {
            let first: [StoredType] = [.runStarted, .runSucceeded, .runFailed, .taskCreated, .runRetryScheduled, .occurrenceSkipped]
            return (first + allCases.filter { !first.contains($0) }).map { ($0, Array($0.rawValue.utf8)) }
        }()

        package init?(bytes: UnsafeRawBufferPointer) {
            for (type, name) in Self.names where name.count == bytes.count {
                if name.withUnsafeBytes({ $0.elementsEqual(bytes) }) {
                    self = type
                    return
                }
            }
            return nil
        }
    }

    /// Decodes a stored event of `type` (nil: a type this build does not know, `name`).
    private static func decode(
        _ type: StoredType?,
        named name: () -> String,
        schemaVersion: UInt16,
        payload: UnsafeRawBufferPointer,
        taskID: TaskID,
        at: Instant
    ) throws(EventDecodingError) -> TaskEvent {
        guard let type else { throw EventDecodingError(message: "\(name()) is not a known event type") }
        let definesTask = type == .taskCreated || type == .taskUpdated
        guard schemaVersion == currentSchemaVersion || (definesTask && (1...definitionSchemaVersion).contains(schemaVersion)) else {
            throw EventDecodingError(message: "\(type.rawValue) schema version \(schemaVersion) is unknown to this build")
        }
        var reader = BinaryReader(payload)
        let actor = try reader.readString()
        let reason = try reader.readOptional { (reader) throws(EventDecodingError) in try reader.readString() }
        let kind: TaskEvent.Kind
        switch type {
        case .taskCreated:
            let definition = try readDefinition(&reader, schemaVersion: schemaVersion)
            kind = .created(definition, nextDueAt: try readOptionalInstant(&reader))
        case .taskUpdated:
            let definition = try readDefinition(&reader, schemaVersion: schemaVersion)
            kind = .updated(definition, nextDueAt: try readOptionalInstant(&reader))
        case .taskPaused:
            kind = .paused
        case .taskResumed:
            kind = .resumed(nextDueAt: try readOptionalInstant(&reader))
        case .taskDeleted:
            kind = .deleted
        case .taskCompleted:
            kind = .completed
        case .runTriggered:
            let trigger = try reader.readString()
            kind = .runTriggered(trigger: trigger, occurrence: OccurrenceID(rawValue: try reader.readString()))
        case .runStarted:
            kind = .runStarted(try readRunStart(&reader))
        case .runSucceeded:
            let run = RunID(rawValue: try reader.readString())
            kind = .runSucceeded(run: run, outcome: try readOutcome(&reader))
        case .runFailed:
            let run = RunID(rawValue: try reader.readString())
            let outcome = try readOutcome(&reader)
            kind = .runFailed(run: run, outcome: outcome, interrupted: try reader.readBool())
        case .runRetryScheduled:
            let occurrence = OccurrenceID(rawValue: try reader.readString())
            let attempt = try reader.readInt()
            let scheduledAt = try reader.readInstant()
            let dueAt = try reader.readInstant()
            let manual = try reader.readBool()
            kind = .runRetryScheduled(RetrySchedule(
                occurrence: occurrence, scheduledAt: scheduledAt, attempt: attempt, dueAt: dueAt,
                occurrenceKind: manual ? .manual : .scheduled
            ))
        case .occurrenceSkipped:
            let occurrence = OccurrenceID(rawValue: try reader.readString())
            let attempt = try reader.readInt()
            let scheduledAt = try reader.readInstant()
            let reason = SkipReason(rawValue: try reader.readString())
            let manual = try reader.readBool()
            kind = .occurrenceSkipped(Skip(
                occurrence: occurrence, scheduledAt: scheduledAt, attempt: attempt, reason: reason,
                occurrenceKind: manual ? .manual : .scheduled, nextDueAt: try readOptionalInstant(&reader)
            ))
        }
        guard reader.isAtEnd else { throw EventDecodingError(message: "\(type.rawValue) has trailing bytes") }
        return TaskEvent(taskID: taskID, at: at, actor: actor, reason: reason, kind: kind)
    }

    // MARK: Parts

    /// A claim's data: occurrence, attempt, scheduled and due instants, manual flag, next due.
    static func writeRunStart(_ start: RunStart, to writer: inout BinaryWriter) {
        writer.write(start.occurrence.rawValue)
        writer.write(start.attempt)
        writer.write(start.scheduledAt)
        writer.write(start.dueAt)
        writer.write(start.occurrenceKind == .manual)
        writer.write(start.nextDueAt) { $0.write($1) }
    }

    /// Reads what ``writeRunStart(_:to:)`` wrote; the run id is derived.
    static func readRunStart(_ reader: inout BinaryReader) throws(EventDecodingError) -> RunStart {
        let occurrence = OccurrenceID(rawValue: try reader.readString())
        let attempt = try reader.readInt()
        let scheduledAt = try reader.readInstant()
        let dueAt = try reader.readInstant()
        let manual = try reader.readBool()
        return RunStart(
            run: RunID(occurrence, attempt: attempt), occurrence: occurrence, scheduledAt: scheduledAt,
            dueAt: dueAt, attempt: attempt, occurrenceKind: manual ? .manual : .scheduled,
            nextDueAt: try readOptionalInstant(&reader)
        )
    }

    static func readOptionalInstant(_ reader: inout BinaryReader) throws(EventDecodingError) -> Instant? {
        try reader.readOptional { (reader) throws(EventDecodingError) in try reader.readInstant() }
    }

    static func writeOutcome(_ outcome: RunOutcome, to writer: inout BinaryWriter) {
        writer.write(outcome.statusCode) { $0.write($1) }
        writer.write(outcome.duration) { $0.write($1) }
        writer.write(outcome.responseExcerpt) { $0.write($1) }
        writer.write(outcome.error) { $0.write($1) }
    }

    static func readOutcome(_ reader: inout BinaryReader) throws(EventDecodingError) -> RunOutcome {
        RunOutcome(
            statusCode: try reader.readOptional { (reader) throws(EventDecodingError) in try reader.readInt() },
            duration: try reader.readOptional { (reader) throws(EventDecodingError) in try reader.readDuration() },
            responseExcerpt: try reader.readOptional { (reader) throws(EventDecodingError) in try reader.readString() },
            error: try reader.readOptional { (reader) throws(EventDecodingError) in try reader.readString() }
        )
    }

    static func writeDefinition(_ definition: TaskDefinition, to writer: inout BinaryWriter) {
        writer.write(definition.name)
        writer.write(definition.description)
        writer.write(definition.labels.count)
        for key in definition.labels.keys.sorted() {
            writer.write(key)
            writer.write(definition.labels[key] ?? "")
        }
        let schedule = definition.schedule
        switch schedule.kind {
        case .once(let at):
            writer.write(UInt8(0))
            writer.write(at)
        case .cron(let cron):
            writer.write(UInt8(1))
            writer.write(cron.expression.source)
            writer.write(cron.timeZoneIdentifier)
        case .interval(let every, let anchor):
            writer.write(UInt8(2))
            writer.write(every)
            writer.write(anchor)
        }
        writer.write(schedule.startAt) { $0.write($1) }
        writer.write(schedule.endAt) { $0.write($1) }
        let action = definition.action
        writer.write(action.url)
        writer.write(action.method)
        writer.write(action.headers.count)
        for header in action.headers {
            writer.write(header.name)
            switch header.value {
            case .plain(let text):
                writer.write(UInt8(0))
                writer.write(text)
            case .sealed(let sealed):
                writer.write(UInt8(1))
                writer.write(sealed.text)
            }
        }
        writer.write(action.body) { $0.write($1) }
        writer.write(action.timeout)
        writer.write(definition.retry.maxAttempts)
        writer.write(definition.retry.initialBackoff)
        writer.write(definition.retry.multiplier)
        writer.write(definition.retry.maxBackoff)
        writer.write(definition.overlap == .forbid)
        switch definition.misfire {
        case .runOnce: writer.write(UInt8(0))
        case .runAll(let limit):
            writer.write(UInt8(1))
            writer.write(limit)
        case .skip: writer.write(UInt8(2))
        }
        writer.write(definition.namespace)
        writer.write(action.signingSecret) { $0.write($1.text) }
    }

    /// Reads a definition written with the layout of `TaskCreated` schema `schemaVersion`.
    ///
    /// The fields definitions share (``TaskDefinition/Common``) are found by their stored
    /// bytes first (``StoredCommonFields``): a definition made from a template seen before
    /// reads only its own name, description, schedule, URL and secret. Both sections are
    /// read through once either way, with the same checks, so a payload is accepted or
    /// refused, with the same error, whether the memo knows them or not.
    static func readDefinition(
        _ reader: inout BinaryReader, schemaVersion: UInt16 = definitionSchemaVersion
    ) throws(EventDecodingError) -> TaskDefinition {
        let name = try reader.readString()
        let description = try reader.readString()
        let labelsStart = reader.offset
        _ = try readLabels(&reader, building: false)
        let labels = UnsafeRawBufferPointer(rebasing: reader.bytes[labelsStart..<reader.offset])
        let schedule = try readSchedule(&reader)
        let url = try reader.readString()
        let sharedStart = reader.offset
        _ = try readSharedFields(&reader, schemaVersion: schemaVersion, labels: nil)
        let shared = UnsafeRawBufferPointer(rebasing: reader.bytes[sharedStart..<reader.offset])
        let signingSecret = schemaVersion >= 3
            ? try reader.readOptional { (reader) throws(EventDecodingError) in SealedSecret(text: try reader.readString()) }
            : nil
        let common = try StoredCommonFields.common(schemaVersion: schemaVersion, labels: labels, shared: shared) {
            () throws(EventDecodingError) -> TaskDefinition.Common in
            var labelsReader = BinaryReader(labels)
            var sharedReader = BinaryReader(shared)
            let labels = try readLabels(&labelsReader, building: true)
            return SharedParts.common(try readSharedFields(&sharedReader, schemaVersion: schemaVersion, labels: labels)!)
        }
        return TaskDefinition(
            name: name, description: description, schedule: schedule, url: url, signingSecret: signingSecret, common: common
        )
    }

    /// A definition's labels; read through without making them unless `building`.
    private static func readLabels(_ reader: inout BinaryReader, building: Bool) throws(EventDecodingError) -> [String: String] {
        var labels: [String: String] = [:]
        for _ in 0..<max(0, try reader.readInt()) {
            let key = try reader.readStringBytes()
            let value = try reader.readStringBytes()
            if building { labels[String(decoding: key, as: UTF8.self)] = String(decoding: value, as: UTF8.self) }
        }
        return labels
    }

    /// A definition's schedule: its kind, then its optional start and end.
    private static func readSchedule(_ reader: inout BinaryReader) throws(EventDecodingError) -> Schedule {
        let kind: Schedule.Kind
        switch try reader.readByte() {
        case 0:
            kind = .once(try reader.readInstant())
        case 1:
            let source = try reader.readString()
            let zone = try reader.readString()
            do {
                kind = .cron(try CronScheduleMemo.schedule(source: source, zone: zone))
            } catch {
                throw EventDecodingError(message: "stored cron schedule \"\(source)\" in \(zone) no longer parses: \(error)")
            }
        case 2:
            let every = try reader.readDuration()
            kind = .interval(every: every, anchor: try reader.readInstant())
        case let other:
            throw EventDecodingError(message: "schedule kind \(other) is unknown")
        }
        return Schedule(kind, startAt: try readOptionalInstant(&reader), endAt: try readOptionalInstant(&reader))
    }

    /// The shared fields stored after the URL (method, headers, body, timeout, retry,
    /// overlap, misfire, namespace): read through with every check, and made into the
    /// shared fields of a definition with `labels` when given (nil otherwise).
    private static func readSharedFields(
        _ reader: inout BinaryReader, schemaVersion: UInt16, labels: [String: String]?
    ) throws(EventDecodingError) -> TaskDefinition.Common? {
        let building = labels != nil
        func text(_ bytes: UnsafeRawBufferPointer) -> String { building ? String(decoding: bytes, as: UTF8.self) : "" }
        let method = text(try reader.readStringBytes())
        var headers: [WebhookAction.Header] = []
        for _ in 0..<max(0, try reader.readInt()) {
            let name = text(try reader.readStringBytes())
            let sealed = schemaVersion >= 3 ? try reader.readBool() : false
            let value = text(try reader.readStringBytes())
            if building { headers.append(sealed ? .init(name: name, sealed: SealedSecret(text: value)) : .init(name: name, value: value)) }
        }
        let body = try reader.readOptional { (reader) throws(EventDecodingError) in text(try reader.readStringBytes()) }
        let timeout = try reader.readDuration()
        let maxAttempts = try reader.readInt()
        let initialBackoff = try reader.readDuration()
        let multiplier = try reader.readDouble()
        let maxBackoff = try reader.readDuration()
        let overlap: OverlapPolicy = try reader.readBool() ? .forbid : .allow
        let misfire: MisfirePolicy
        switch try reader.readByte() {
        case 0: misfire = .runOnce
        case 1: misfire = .runAll(limit: try reader.readInt())
        case 2: misfire = .skip
        case let other: throw EventDecodingError(message: "misfire policy \(other) is unknown")
        }
        let namespace = schemaVersion >= 2 ? text(try reader.readStringBytes()) : TaskDefinition.defaultNamespace
        guard let labels else { return nil }
        return TaskDefinition.Common(
            labels: labels, method: method, headers: headers, body: body, timeout: timeout,
            retry: RetryPolicy(maxAttempts: maxAttempts, initialBackoff: initialBackoff, multiplier: multiplier, maxBackoff: maxBackoff),
            overlap: overlap, misfire: misfire, namespace: namespace
        )
    }
}
