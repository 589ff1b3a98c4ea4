import Testing

@testable import Scheduling

/// A run's end read in place from its stored bytes (`StoredRunEnd`) changes a task as the
/// decoded `RunSucceeded` or `RunFailed` does.
@Suite("Run ends read in place")
struct RunEndTests {
    static let occurrence = OccurrenceID.scheduled(taskA, at: t0)
    static let manual = OccurrenceID.manual(taskA, trigger: "op-1")

    /// Ends of every shape: each outcome field present and absent, a reason or none, an
    /// interrupted failure, a manual occurrence, ids with multi-byte text.
    static let ends: [TaskEvent] = {
        let runs = [RunID(occurrence, attempt: 1), RunID(manual, attempt: 2), RunID(rawValue: "é-run#1"), RunID(rawValue: "no-attempt")]
        let outcomes = [
            RunOutcome(),
            RunOutcome(statusCode: 200, duration: .microseconds(1234), responseExcerpt: "ok"),
            RunOutcome(statusCode: 503, duration: .seconds(2), responseExcerpt: "busy — ☂", error: "HTTP 503"),
            RunOutcome(error: "connection refused"),
        ]
        var events: [TaskEvent] = []
        for (index, run) in runs.enumerated() {
            for (number, outcome) in outcomes.enumerated() {
                let reason = (index + number).isMultiple(of: 2) ? nil : "because"
                let at = t0.plus(Int64(events.count))
                events.append(TaskEvent(taskID: taskA, at: at, actor: "scheduler", reason: reason, kind: .runSucceeded(run: run, outcome: outcome)))
                for interrupted in [false, true] {
                    events.append(TaskEvent(
                        taskID: taskA, at: at, actor: "alice", reason: reason,
                        kind: .runFailed(run: run, outcome: outcome, interrupted: interrupted)
                    ))
                }
            }
        }
        return events
    }()

    /// A stored event: its type name, schema version and payload.
    struct Stored {
        var type: String
        var schemaVersion: UInt16
        var payload: [UInt8]

        init(_ event: TaskEvent) {
            let encoded = EventCodec.encode(event)
            (type, schemaVersion, payload) = (encoded.type, encoded.schemaVersion, encoded.payload)
        }
    }

    static func runEnd(_ stored: Stored, _ body: (StoredRunEnd?) -> Void) {
        Array(stored.type.utf8).withUnsafeBytes { type in
            stored.payload.withUnsafeBytes { payload in
                body(EventCodec.runEnd(EventCodec.StoredType(bytes: type), schemaVersion: stored.schemaVersion, payload: payload))
            }
        }
    }

    @Test func aRunsEndIsReadWithWhatItsEventSays() {
        for event in Self.ends {
            let (run, outcome, result): (RunID, RunOutcome, LastRun.Result)
            switch event.kind {
            case .runSucceeded(let ended, let said): (run, outcome, result) = (ended, said, .succeeded)
            case .runFailed(let ended, let said, let interrupted): (run, outcome, result) = (ended, said, interrupted ? .interrupted : .failed)
            default: Issue.record("not a run's end"); continue
            }
            Self.runEnd(Stored(event)) { end in
                guard let end else {
                    Issue.record("\(event.kind) was not read in place")
                    return
                }
                #expect(Array(end.run) == Array(run.rawValue.utf8))
                #expect(end.result == result)
                #expect(end.statusCode == outcome.statusCode)
                #expect(end.duration == outcome.duration)
                #expect(end.hasDetail == (outcome.error != nil || outcome.responseExcerpt != nil))
            }
        }
    }

    /// Other kinds, and payloads the decoder refuses, are left to the decoder.
    @Test func anythingButAWholeRunsEndIsLeftToTheDecoder() {
        for kind in EventCodecTests.kinds {
            if case .runSucceeded = kind { continue }
            if case .runFailed = kind { continue }
            Self.runEnd(Stored(TaskEvent(taskID: taskA, at: t0, actor: "a", kind: kind))) { #expect($0 == nil, "\(kind.typeName)") }
        }
        for event in Self.ends {
            let encoded = Stored(event)
            for cut in 0..<encoded.payload.count {
                var damaged = encoded
                damaged.payload = Array(encoded.payload.prefix(cut))
                Self.runEnd(damaged) { #expect($0 == nil, "cut at \(cut)") }
            }
            var longer = encoded
            longer.payload.append(0)
            Self.runEnd(longer) { #expect($0 == nil, "trailing byte") }
            var newer = encoded
            newer.schemaVersion = 2
            Self.runEnd(newer) { #expect($0 == nil, "schema version 2") }
            // A flag that is neither 0 nor 1 (here the reason's) is refused as the decoder refuses it.
            var flag = encoded
            let actorLength = Int(flag.payload[0])
            flag.payload[1 + actorLength] = 2
            Self.runEnd(flag) { #expect($0 == nil, "flag 2") }
            #expect(throws: EventDecodingError.self) {
                try EventCodec.decode(type: flag.type, schemaVersion: flag.schemaVersion, payload: flag.payload, taskID: taskA, at: t0)
            }
        }
    }

    /// A task with runs in flight, as the decider leaves it.
    static func stateWithRunsInFlight() -> TaskState {
        var state = TaskState(id: taskA, definition: oneTime(at: t0), createdAt: t0, nextDueAt: t0)
        for run in [RunID(occurrence, attempt: 1), RunID(manual, attempt: 2), RunID(rawValue: "é-run#1"), RunID(rawValue: "no-attempt")] {
            let occurrence = OccurrenceID(rawValue: String(run.rawValue.split(separator: "#").first ?? ""))
            state.apply(TaskEvent(taskID: taskA, at: t0, actor: "scheduler", kind: .runStarted(RunStart(
                run: run, occurrence: occurrence, scheduledAt: t0, dueAt: t0, attempt: 1, occurrenceKind: .manual, nextDueAt: nil
            ))))
        }
        return state
    }

    @Test func endingARunInPlaceChangesTheTaskAsTheEventDoes() {
        for event in Self.ends {
            var decoded = Self.stateWithRunsInFlight()
            decoded.apply(event)
            var inPlace = Self.stateWithRunsInFlight()
            Self.runEnd(Stored(event)) { end in
                guard let end else {
                    Issue.record("not read in place")
                    return
                }
                let ended = inPlace.endRun(end, at: event.at)
                #expect(ended.map { Array($0.rawValue.utf8) } == Array(end.run))
            }
            #expect(inPlace == decoded, "\(event.kind)")
            #expect(inPlace.inFlight.count == 3)
            #expect(inPlace.lastRun == decoded.lastRun)
        }
    }

    /// A run not in flight is left to the decoder, which records its end all the same.
    @Test func aRunNotInFlightLeavesTheTaskUnchanged() {
        let event = TaskEvent(taskID: taskA, at: t0, actor: "scheduler", kind: .runSucceeded(run: RunID(Self.occurrence, attempt: 9), outcome: RunOutcome()))
        var state = Self.stateWithRunsInFlight()
        Self.runEnd(Stored(event)) { end in
            guard let end else {
                    Issue.record("not read in place")
                    return
                }
            #expect(state.endRun(end, at: t0) == nil)
        }
        #expect(state == Self.stateWithRunsInFlight())
    }

    /// Bytes compared eight at a time: every length, a difference at every offset.
    @Test func bytesAreTheSameOnlyWhenEveryByteIs() {
        for count in 0...19 {
            let bytes = (0..<count).map { UInt8(truncatingIfNeeded: $0 &* 37 &+ 11) }
            bytes.withUnsafeBytes { left in
                Array(bytes).withUnsafeBytes { right in #expect(OccurrenceText.same(left, right)) }
                (bytes + [0]).withUnsafeBytes { longer in #expect(!OccurrenceText.same(left, longer)) }
                for offset in 0..<count {
                    var changed = bytes
                    changed[offset] ^= 0x80
                    changed.withUnsafeBytes { right in #expect(!OccurrenceText.same(left, right), "count \(count), offset \(offset)") }
                }
            }
        }
    }
}
