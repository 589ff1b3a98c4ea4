/// Chooses what the scheduler asks for when an attempt is found due: a claim, or — for a
/// scheduled occurrence found more than the grace period late — what the task's misfire
/// policy says. Pure: the same state, entry and instant always give the same answer.
public enum MisfirePlanner {
    /// The command for attempt `attempt` of `occurrence`, due at `dueAt`, found at `now`.
    ///
    /// - `runOnce`: every missed occurrence but the latest is skipped; the latest runs.
    /// - `runAll(limit)`: the latest `limit` missed occurrences run; older ones are skipped.
    /// - `skip`: every missed occurrence is skipped; the next future one is scheduled.
    ///
    /// Retries and manual triggers are never misfires: they run however late they are.
    public static func action(
        for occurrence: OccurrenceID,
        attempt: Int,
        dueAt: Instant,
        state: TaskState,
        now: Instant,
        grace: Duration
    ) -> TaskCommand.Action {
        let isScheduledFirstAttempt = attempt == 1 && occurrence == .scheduled(state.id, at: dueAt)
        guard isScheduledFirstAttempt, now - dueAt > grace else { return .startRun(occurrence) }
        switch state.definition.misfire {
        case .skip:
            return .skipOccurrence(occurrence, .misfire)
        case .runOnce:
            return laterMissed(after: dueAt, state: state, now: now, upTo: 1) >= 1
                ? .skipOccurrence(occurrence, .misfire) : .startRun(occurrence)
        case .runAll(let limit):
            // Run this one only if fewer than `limit` missed occurrences come after it.
            guard limit > 0 else { return .skipOccurrence(occurrence, .misfire) }
            return laterMissed(after: dueAt, state: state, now: now, upTo: limit) < limit
                ? .startRun(occurrence) : .skipOccurrence(occurrence, .misfire)
        }
    }

    /// How many scheduled occurrences after `instant` are already due at `now`, counting no
    /// further than `bound`.
    private static func laterMissed(after instant: Instant, state: TaskState, now: Instant, upTo bound: Int) -> Int {
        var count = 0
        var cursor = instant
        while count < bound, let next = state.definition.schedule.next(after: cursor), next <= now {
            count += 1
            cursor = next
        }
        return count
    }
}
