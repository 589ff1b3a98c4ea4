public import Access
public import Journal
public import Projections
public import Scheduling

/// Checks a journal's events against the rules the decider follows: a pure fold, fed the
/// records in position order, that also builds the projection (for the summary and digest).
///
/// It finds: events that do not decode; stream versions out of step; events the task's state
/// did not allow (a pause of a paused task, an outcome for a run never started or already
/// finished, …); an occurrence claimed twice; scheduled occurrences consumed out of order or
/// jumped over without a `RunStarted` or `OccurrenceSkipped`; and, at the end, occurrences
/// that fell due long before the journal's last instant and were never claimed nor skipped.
public struct Auditor: Sendable {
    /// Something wrong, at a position (nil: found at the end of the journal).
    public struct Finding: Sendable, Hashable, CustomStringConvertible {
        public let position: UInt64?
        public let taskID: TaskID?
        public let message: String

        public var description: String {
            let place = position.map { "position \($0)" } ?? "end of journal"
            return taskID.map { "\(place), task \($0): \(message)" } ?? "\(place): \(message)"
        }
    }

    /// The most findings kept (the count goes on).
    public static let maximumFindings = 1000

    public private(set) var projection: Projection
    public private(set) var findings: [Finding] = []
    /// When and where each run without an outcome yet started.
    private var started: [RunID: (at: Instant, position: UInt64)] = [:]
    public private(set) var findingCount = 0
    public private(set) var events: UInt64 = 0
    public private(set) var firstInstant: Instant?
    public private(set) var lastInstant: Instant?
    /// Runs started, and the hashes of their ids (to find a run claimed twice).
    public private(set) var runsStarted = 0
    private var claimed: [TaskID: Set<UInt64>] = [:]
    /// Tokens issued and revoked (the access stream, folded).
    public private(set) var access = AccessState()

    /// Creates an auditor; `runRetention` must be the server's for the digests to agree.
    public init(runRetention: Int = 20) {
        projection = Projection(runRetention: runRetention)
    }

    private mutating func find(_ message: String, at position: UInt64?, task: TaskID?) {
        findingCount += 1
        if findings.count < Self.maximumFindings { findings.append(Finding(position: position, taskID: task, message: message)) }
    }

    /// Checks and applies one record (records must come in position order).
    public mutating func apply(_ recorded: RecordedEvent) {
        events += 1
        let at = Instant(microsecondsSinceEpoch: recorded.recordedAt)
        if firstInstant == nil { firstInstant = at }
        if lastInstant.map({ at > $0 }) ?? true { lastInstant = at }
        if recorded.streamID.isReserved {
            applyReserved(recorded)
            return
        }
        let id = TaskID(recorded.streamID.rawValue)
        let event: TaskEvent
        do {
            event = try EventCodec.decode(
                type: recorded.type, schemaVersion: recorded.schemaVersion, payload: recorded.payload, taskID: id, at: at
            )
        } catch {
            find("\(recorded.type) v\(recorded.schemaVersion) does not decode: \(error)", at: recorded.position, task: id)
            return
        }
        checkActor(event.actor, at: recorded.position, task: id)
        let state = projection.tasks[id]
        let expectedVersion = (state?.version ?? 0) + 1
        if recorded.streamVersion != expectedVersion {
            find("stream version \(recorded.streamVersion), expected \(expectedVersion)", at: recorded.position, task: id)
        }
        check(event, state: state, position: recorded.position)
        switch event.kind {
        case .runStarted(let start): started[start.run] = (at, recorded.position)
        case .runSucceeded(let run, _), .runFailed(let run, _, _): started[run] = nil
        default: break
        }
        projection.apply(event, position: recorded.position, streamVersion: recorded.streamVersion)
    }

    /// A record of a reserved stream: only the access stream exists; its events must decode,
    /// follow its versions, and revoke only tokens that were issued and are still active.
    private mutating func applyReserved(_ recorded: RecordedEvent) {
        // The projection skips reserved streams but moves its position past them.
        try? projection.apply(recorded)
        guard recorded.streamID == AccessEvent.streamID else {
            find("event on the unknown reserved stream \(recorded.streamID)", at: recorded.position, task: nil)
            return
        }
        if recorded.streamVersion != access.version + 1 {
            find("access stream version \(recorded.streamVersion), expected \(access.version + 1)", at: recorded.position, task: nil)
        }
        let event: AccessEvent
        do {
            event = try AccessEventCodec.decode(recorded)
        } catch {
            find("\(recorded.type) v\(recorded.schemaVersion) does not decode: \(error)", at: recorded.position, task: nil)
            return
        }
        checkActor(event.actor, at: recorded.position, task: nil)
        switch event.kind {
        case .tokenCreated(let token):
            if access.tokens[token.id] != nil { find("token \(token.id) issued twice", at: recorded.position, task: nil) }
            if access.tokens.values.contains(where: { $0.name == token.name && $0.isActive }) {
                find("token name \"\(token.name)\" issued while another active token had it", at: recorded.position, task: nil)
            }
        case .tokenRevoked(let id):
            if access.tokens[id]?.isActive != true { find("TokenRevoked for token \(id), which is not an active token", at: recorded.position, task: nil) }
        }
        access.apply(event, streamVersion: recorded.streamVersion)
    }

    /// An actor that is the name of tokens issued, none of them active any more, acted with a
    /// revoked token (the engine's own actors are never token names).
    private mutating func checkActor(_ actor: String, at position: UInt64, task: TaskID?) {
        guard access.hasTokens else { return }
        var named = false
        for token in access.tokens.values where token.name == actor {
            if token.isActive { return }
            named = true
        }
        if named { find("\(actor) acted after its token was revoked", at: position, task: task) }
    }

    private mutating func check(_ event: TaskEvent, state: TaskState?, position: UInt64) {
        let id = event.taskID
        func problem(_ message: String) { find(message, at: position, task: id) }
        guard let state else {
            if case .created = event.kind { return }
            problem("\(event.kind.typeName) for a task that was never created")
            return
        }
        if state.status == .deleted {
            switch event.kind {
            case .runSucceeded, .runFailed, .runRetryScheduled, .occurrenceSkipped: break
            default:
                problem("\(event.kind.typeName) after the task was deleted")
                return
            }
        }
        switch event.kind {
        case .created:
            problem("TaskCreated for a task that already exists")
        case .paused:
            if state.status != .active { problem("TaskPaused while the task was \(state.status.rawValue)") }
        case .resumed:
            if state.status != .paused { problem("TaskResumed while the task was \(state.status.rawValue)") }
        case .runStarted(let start):
            runsStarted += 1
            let hash = Self.hash(start.run.rawValue)
            if !claimed[id, default: []].insert(hash).inserted {
                problem("run \(start.run) was claimed twice")
            }
            consume(start.occurrence, kind: start.occurrenceKind, attempt: start.attempt, scheduledAt: start.scheduledAt,
                    nextDueAt: start.nextDueAt, state: state, position: position, what: "claimed")
        case .occurrenceSkipped(let skip):
            consume(skip.occurrence, kind: skip.occurrenceKind, attempt: skip.attempt, scheduledAt: skip.scheduledAt,
                    nextDueAt: skip.nextDueAt, state: state, position: position, what: "skipped")
        case .runSucceeded(let run, _), .runFailed(let run, _, _):
            if state.inFlight[run] == nil {
                problem("\(event.kind.typeName) for run \(run), which is not in flight (never started, or already finished)")
            }
        case .runRetryScheduled(let retry):
            let previous = RunID(retry.occurrence, attempt: retry.attempt - 1)
            if state.inFlight[previous] != nil {
                problem("retry \(retry.attempt) of \(retry.occurrence) scheduled while attempt \(retry.attempt - 1) is still in flight")
            }
        case .completed:
            if state.nextDueAt != nil || !state.pending.isEmpty {
                problem("TaskCompleted while occurrences were still due")
            }
        case .updated, .deleted, .runTriggered:
            break
        }
    }

    /// A claim or skip takes a scheduled occurrence off the task's schedule (it must be the
    /// next one, and the next after it must follow without a gap) or a pending attempt.
    private mutating func consume(
        _ occurrence: OccurrenceID, kind: OccurrenceKind, attempt: Int, scheduledAt: Instant, nextDueAt: Instant?,
        state: TaskState, position: UInt64, what: String
    ) {
        let id = state.id
        if kind == .scheduled && attempt == 1 {
            guard let due = state.nextDueAt else {
                find("occurrence \(scheduledAt.rfc3339) was \(what), but the task had no occurrence due", at: position, task: id)
                return
            }
            if due != scheduledAt {
                find(
                    scheduledAt > due
                        ? "occurrence \(due.rfc3339) was passed over: \(scheduledAt.rfc3339) was \(what) first, with no RunStarted or OccurrenceSkipped for it"
                        : "occurrence \(scheduledAt.rfc3339) was \(what), but the task's next occurrence was \(due.rfc3339)",
                    at: position, task: id
                )
            }
            let expected = state.definition.schedule.next(after: scheduledAt)
            if nextDueAt != expected {
                find(
                    "after \(scheduledAt.rfc3339) the next occurrence was recorded as \(nextDueAt?.rfc3339 ?? "none"), but the schedule says \(expected?.rfc3339 ?? "none")",
                    at: position, task: id
                )
            }
        } else if state.pending[occurrence]?.attempt != attempt {
            find("attempt \(attempt) of \(occurrence) was \(what), but it was not pending", at: position, task: id)
        }
    }

    /// Findings at the end of the journal: occurrences due more than `grace` before its last
    /// instant that nothing claimed or skipped, and the runs still in flight (notes, since a
    /// running server legitimately has some).
    public func finish(grace: Duration) -> (problems: [Finding], inFlight: [Finding]) {
        var problems: [Finding] = []
        var inFlight: [Finding] = []
        guard let last = lastInstant else { return ([], []) }
        for (id, state) in projection.tasks.sorted(by: { $0.key < $1.key }) {
            if state.status == .active, let due = state.nextDueAt, due < last - grace {
                problems.append(Finding(
                    position: nil, taskID: id,
                    message: "occurrence \(due.rfc3339) fell due before the journal's last instant (\(last.rfc3339)) and was never claimed nor skipped"
                ))
            }
            for (run, start) in state.inFlight.sorted(by: { $0.key < $1.key }) {
                // A call ends within its timeout; its outcome is recorded at once. A run whose
                // timeout (and the grace) passed while the journal went on was dropped, unless
                // the process stopped: then the next start records it as interrupted.
                let timeout = state.definition.action.timeout
                if let begun = started[run], begun.at + timeout + grace < last {
                    problems.append(Finding(
                        position: begun.position, taskID: id,
                        message: "run \(run) started at \(begun.at.rfc3339) with a \(timeout) timeout and has no outcome by the journal's last instant (\(last.rfc3339)): its outcome was lost"
                    ))
                } else {
                    inFlight.append(Finding(position: nil, taskID: id, message: "run \(run) started (due \(start.dueAt.rfc3339)) and has no outcome yet"))
                }
            }
        }
        return (problems, inFlight)
    }

    private static func hash(_ text: String) -> UInt64 {
        var hash: UInt64 = 0xCBF2_9CE4_8422_2325
        for byte in text.utf8 { hash = (hash ^ UInt64(byte)) &* 0x100_0000_01B3 }
        return hash
    }
}
