extension TaskState {
    /// Applies one event: total, never throws, never reads the clock.
    ///
    /// An event that does not fit the state (anything but `TaskCreated` before the task
    /// exists) leaves it unchanged; the audit reports such events, evolve does not judge.
    public static func evolve(_ state: TaskState?, _ event: TaskEvent) -> TaskState? {
        guard var state else {
            if case .created(let definition, let nextDueAt) = event.kind {
                return TaskState(id: event.taskID, definition: definition, createdAt: event.at, nextDueAt: nextDueAt)
            }
            return nil
        }
        state.apply(event)
        return state
    }

    /// Applies one event in place.
    public mutating func apply(_ event: TaskEvent) {
        version += 1
        switch event.kind {
        case .created:
            break
        case .updated(let definition, let next):
            self.definition = definition
            nextDueAt = next
            updatedAt = event.at
            if status == .completed { status = .active }
        case .paused:
            status = .paused
            updatedAt = event.at
        case .resumed(let next):
            status = .active
            nextDueAt = next
            updatedAt = event.at
        case .deleted:
            status = .deleted
            nextDueAt = nil
            pending = [:]
            updatedAt = event.at
        case .runTriggered(let trigger, let occurrence):
            pending[occurrence] = PendingAttempt(
                occurrence: occurrence,
                scheduledAt: event.at,
                attempt: 1,
                dueAt: event.at,
                kind: .manual
            )
            usedTriggers.insert(trigger)
        case .runStarted(let start):
            inFlight[start.run] = start
            if start.occurrenceKind == .scheduled && start.attempt == 1 {
                nextDueAt = start.nextDueAt
            } else {
                pending.removeValue(forKey: start.occurrence)
            }
            counts.runs += 1
        case .runSucceeded(let run, let outcome):
            inFlight.removeValue(forKey: run)
            ended(run, .succeeded, at: event.at, statusCode: outcome.statusCode)
        case .runFailed(let run, let outcome, let interrupted):
            inFlight.removeValue(forKey: run)
            ended(run, interrupted ? .interrupted : .failed, at: event.at, statusCode: outcome.statusCode)
        case .runRetryScheduled(let retry):
            pending[retry.occurrence] = PendingAttempt(
                occurrence: retry.occurrence,
                scheduledAt: retry.scheduledAt,
                attempt: retry.attempt,
                dueAt: retry.dueAt,
                kind: retry.occurrenceKind
            )
        case .occurrenceSkipped(let skip):
            if skip.occurrenceKind == .scheduled && skip.attempt == 1 {
                nextDueAt = skip.nextDueAt
            } else {
                pending.removeValue(forKey: skip.occurrence)
            }
            counts.skipped += 1
            lastRun = LastRun(run: RunID(skip.occurrence, attempt: skip.attempt), of: id, result: .skipped, at: event.at, statusCode: nil)
        case .completed:
            status = .completed
        }
    }

    /// Applies a run's end read in place as ``apply(_:)`` applies the `RunSucceeded` or
    /// `RunFailed` it was read from, and returns the run that ended; nil, with the state
    /// unchanged, when no run in flight has exactly those bytes as its id (the event is then
    /// decoded and applied the usual way).
    ///
    /// A run in flight whose id has the same bytes is the one run `apply(_:)` would remove:
    /// equal bytes make equal strings, and no two runs in flight have equal ids.
    package mutating func endRun(_ end: StoredRunEnd, at instant: Instant) -> RunID? {
        guard let start = inFlight.removeFirst(where: { RunIDText.run($0.run, is: end.run) }) else { return nil }
        version += 1
        ended(start.run, end.result, at: instant, statusCode: end.statusCode)
        return start.run
    }

    /// What a run's end changes, but the version and the runs in flight.
    private mutating func ended(_ run: RunID, _ result: LastRun.Result, at instant: Instant, statusCode: Int?) {
        if result == .succeeded { counts.succeeded += 1 } else { counts.failed += 1 }
        lastRun = LastRun(run: run, of: id, result: result, at: instant, statusCode: statusCode)
    }
}
