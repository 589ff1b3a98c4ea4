/// Every rule about tasks: decides which events a command causes, given the task's state
/// and the current instant. Pure: no I/O, no clock, no logging.
///
/// A command that already took effect (pausing a paused task, deleting a deleted one,
/// creating the same task twice, repeating a trigger id, completing a finished run) emits
/// nothing; a command the rules forbid throws ``DomainError`` and emits nothing.
public enum TaskDecider {
    /// The events `command` causes on `state` (nil when the task does not exist) at `now`.
    public static func decide(_ command: TaskCommand, state: TaskState?, now: Instant) throws(DomainError) -> [TaskEvent] {
        let id = command.taskID
        func event(_ kind: TaskEvent.Kind) -> TaskEvent {
            TaskEvent(taskID: id, at: now, actor: command.actor, reason: command.reason, kind: kind)
        }

        if case .createTask(let definition) = command.action {
            if let state {
                if state.definition == definition && state.status != .deleted { return [] }
                throw DomainError(.taskAlreadyExists, id, "a task with this id already exists; choose another id")
            }
            let next = try firstOccurrence(of: definition, after: now, task: id)
            return [event(.created(definition, nextDueAt: next))]
        }

        guard let state else { throw DomainError(.taskNotFound, id, "no task has this id") }
        if state.status == .deleted {
            switch command.action {
            case .deleteTask:
                return []
            case .completeRun, .failRun, .recoverRuns, .recoverRun:
                break  // runs started before the delete still record their outcome
            default:
                throw DomainError(.taskDeleted, id, "the task was deleted")
            }
        }

        var events: [TaskEvent]
        switch command.action {
        case .createTask:
            events = []  // handled above
        case .updateTask(let definition):
            if definition == state.definition { return [] }
            let next = try firstOccurrence(of: definition, after: now, task: id)
            events = [event(.updated(definition, nextDueAt: next))]
        case .pauseTask:
            switch state.status {
            case .paused: return []
            case .completed: throw DomainError(.taskCompleted, id, "the task has completed; there is nothing to pause")
            default: events = [event(.paused)]
            }
        case .resumeTask:
            switch state.status {
            case .paused: events = [event(.resumed(nextDueAt: state.definition.schedule.next(after: now)))]
            case .completed: throw DomainError(.taskCompleted, id, "the task has completed; update it to give it new occurrences")
            default: throw DomainError(.taskNotPaused, id, "the task is not paused")
            }
        case .deleteTask:
            events = [event(.deleted)]
        case .triggerTask(let trigger):
            let occurrence = OccurrenceID.manual(id, trigger: trigger)
            if state.usedTriggers.contains(trigger) || state.pending[occurrence] != nil { return [] }
            if state.status == .completed {
                throw DomainError(.taskCompleted, id, "the task has completed; update it to give it new occurrences")
            }
            events = [event(.runTriggered(trigger: trigger, occurrence: occurrence))]
        case .startRun(let occurrence):
            let due = try dueAttempt(occurrence, in: state, now: now)
            if state.status == .paused && due.kind != .manual {
                throw DomainError(.taskPaused, id, "the task is paused; only manual triggers run")
            }
            let next = due.kind == .scheduled && due.attempt == 1
                ? state.definition.schedule.next(after: due.scheduledAt) : state.nextDueAt
            if state.definition.overlap == .forbid && !state.inFlight.isEmpty {
                events = [event(.occurrenceSkipped(Skip(
                    occurrence: occurrence, scheduledAt: due.scheduledAt, attempt: due.attempt,
                    reason: .overlap, occurrenceKind: due.kind, nextDueAt: next
                )))]
            } else {
                events = [event(.runStarted(RunStart(
                    run: RunID(occurrence, attempt: due.attempt), occurrence: occurrence,
                    scheduledAt: due.scheduledAt, dueAt: due.dueAt, attempt: due.attempt,
                    occurrenceKind: due.kind, nextDueAt: next
                )))]
            }
        case .completeRun(let run, let outcome):
            guard state.inFlight[run] != nil else {
                if state.lastRun?.run(of: state.id) == run && state.lastRun?.result == .succeeded { return [] }
                throw DomainError(.runNotRunning, id, "run \(run) is not in flight")
            }
            events = [event(.runSucceeded(run: run, outcome: outcome))]
        case .failRun(let run, let outcome):
            guard let start = state.inFlight[run] else {
                if state.lastRun?.run(of: state.id) == run && state.lastRun?.result == .failed { return [] }
                throw DomainError(.runNotRunning, id, "run \(run) is not in flight")
            }
            events = failure(of: start, outcome: outcome, interrupted: false, state: state, now: now, event: event)
        case .skipOccurrence(let occurrence, let reason):
            let due = try dueAttempt(occurrence, in: state, now: now)
            let next = due.kind == .scheduled && due.attempt == 1
                ? state.definition.schedule.next(after: due.scheduledAt) : state.nextDueAt
            events = [event(.occurrenceSkipped(Skip(
                occurrence: occurrence, scheduledAt: due.scheduledAt, attempt: due.attempt,
                reason: reason, occurrenceKind: due.kind, nextDueAt: next
            )))]
        case .recoverRuns:
            events = []
            for start in state.inFlight.values.sorted(by: { $0.run < $1.run }) {
                let outcome = RunOutcome(error: "interrupted: the run was in flight when Almanac stopped")
                events += failure(of: start, outcome: outcome, interrupted: true, state: state, now: now, event: event)
            }
        case .recoverRun(let run):
            events = []
            if let start = state.inFlight[run] {
                let outcome = RunOutcome(error: "interrupted: the node running it stopped, and no outcome was recorded within its timeout")
                events = failure(of: start, outcome: outcome, interrupted: true, state: state, now: now, event: event)
            }
        }
        return completing(events, on: state, event: event)
    }

    /// `RunFailed`, followed by `RunRetryScheduled` while attempts remain (and the task is
    /// not deleted).
    private static func failure(
        of start: RunStart,
        outcome: RunOutcome,
        interrupted: Bool,
        state: TaskState,
        now: Instant,
        event: (TaskEvent.Kind) -> TaskEvent
    ) -> [TaskEvent] {
        var events = [event(.runFailed(run: start.run, outcome: outcome, interrupted: interrupted))]
        let retry = state.definition.retry
        if start.attempt < retry.maxAttempts && state.status != .deleted {
            let attempt = start.attempt + 1
            let delay = retry.backoff(beforeAttempt: attempt, seed: start.occurrence.rawValue)
            events.append(event(.runRetryScheduled(RetrySchedule(
                occurrence: start.occurrence, scheduledAt: start.scheduledAt, attempt: attempt,
                dueAt: now + delay, occurrenceKind: start.occurrenceKind
            ))))
        }
        return events
    }

    /// Appends `TaskCompleted` when the events leave an active or paused task with no
    /// further occurrence, nothing in flight and nothing pending.
    private static func completing(
        _ events: [TaskEvent],
        on state: TaskState,
        event: (TaskEvent.Kind) -> TaskEvent
    ) -> [TaskEvent] {
        guard !events.isEmpty else { return events }
        var after = state
        for item in events { after.apply(item) }
        let idle = after.nextDueAt == nil && after.inFlight.isEmpty && after.pending.isEmpty
        if idle && (after.status == .active || after.status == .paused) {
            return events + [event(.completed)]
        }
        return events
    }

    /// The first occurrence of a new or updated definition, refusing one that has none.
    private static func firstOccurrence(of definition: TaskDefinition, after now: Instant, task: TaskID) throws(DomainError) -> Instant {
        guard let next = definition.schedule.next(after: now) else {
            if case .once(let at) = definition.schedule.kind, at <= now {
                throw DomainError(.invalidDefinition, task, "the one-time instant \(at) is not in the future")
            }
            throw DomainError(.invalidDefinition, task, "the schedule has no occurrence after \(now)")
        }
        return next
    }

    /// The attempt of `occurrence` that is due now: a pending retry or trigger, or the next
    /// scheduled occurrence.
    private static func dueAttempt(_ occurrence: OccurrenceID, in state: TaskState, now: Instant) throws(DomainError) -> PendingAttempt {
        let due: PendingAttempt
        if let pending = state.pending[occurrence] {
            due = pending
        } else if let next = state.nextDueAt, occurrence == .scheduled(state.id, at: next) {
            due = PendingAttempt(occurrence: occurrence, scheduledAt: next, attempt: 1, dueAt: next, kind: .scheduled)
        } else if state.inFlight.values.contains(where: { $0.occurrence == occurrence }) {
            throw DomainError(.runAlreadyStarted, state.id, "occurrence \(occurrence) was already claimed")
        } else {
            throw DomainError(.occurrenceNotDue, state.id, "occurrence \(occurrence) is not due for this task")
        }
        guard due.dueAt <= now else {
            throw DomainError(.occurrenceNotDue, state.id, "occurrence \(occurrence) is due at \(due.dueAt), not yet")
        }
        return due
    }
}
