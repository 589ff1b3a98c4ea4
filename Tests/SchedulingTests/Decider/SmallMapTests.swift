import Testing

@testable import Scheduling

/// A task's pending attempts and runs in flight, kept as small arrays with a dictionary's
/// behaviour.
@Suite("Small maps")
struct SmallMapTests {
    private func attempt(_ trigger: String, attempt: Int = 1) -> PendingAttempt {
        let at = Instant(secondsSinceEpoch: 100)
        return PendingAttempt(occurrence: .manual("a", trigger: trigger), scheduledAt: at, attempt: attempt, dueAt: at, kind: .manual)
    }

    @Test func behavesAsADictionaryByOccurrence() {
        var pending = PendingAttempts()
        #expect(pending.isEmpty && pending.capacity == 0)
        let one = attempt("one")
        let two = attempt("two")
        pending[one.occurrence] = one
        pending[two.occurrence] = two
        #expect(pending.count == 2 && pending[one.occurrence] == one && pending[two.occurrence] == two)
        // Setting a present key replaces its value; nil removes it.
        pending[one.occurrence] = attempt("one", attempt: 2)
        #expect(pending.count == 2 && pending[one.occurrence]?.attempt == 2)
        #expect(pending.removeValue(forKey: two.occurrence) == two)
        #expect(pending.removeValue(forKey: two.occurrence) == nil)
        pending[one.occurrence] = nil
        // Emptied: its storage is given back.
        #expect(pending.isEmpty && pending.capacity == 0)
    }

    @Test func equalityAndHashIgnoreOrder() {
        let one = attempt("one")
        let two = attempt("two")
        let forward: PendingAttempts = [one.occurrence: one, two.occurrence: two]
        var backward = PendingAttempts()
        backward[two.occurrence] = two
        backward[one.occurrence] = one
        #expect(forward == backward)
        #expect(forward.hashValue == backward.hashValue)
        #expect(Set(forward.keys) == [one.occurrence, two.occurrence])
        backward[two.occurrence] = attempt("two", attempt: 3)
        #expect(forward != backward)
    }

    @Test func runsInFlightAreFoundByTheirRun() {
        let at = Instant(secondsSinceEpoch: 100)
        func start(_ seconds: Int64, attempt: Int = 1) -> RunStart {
            let occurrence = OccurrenceID.scheduled("a", at: Instant(secondsSinceEpoch: seconds))
            return RunStart(
                run: RunID(occurrence, attempt: attempt), occurrence: occurrence, scheduledAt: at, dueAt: at,
                attempt: attempt, occurrenceKind: .scheduled, nextDueAt: nil
            )
        }
        var inFlight = InFlightRuns()
        inFlight[start(1).run] = start(1)
        inFlight[start(1, attempt: 2).run] = start(1, attempt: 2)
        #expect(inFlight.count == 2)
        #expect(inFlight[start(1, attempt: 2).run]?.attempt == 2)
        #expect(inFlight[start(2).run] == nil)
        #expect(inFlight.removeValue(forKey: start(1).run) == start(1))
        #expect(inFlight.keys == [start(1, attempt: 2).run])
        inFlight.removeValue(forKey: start(1, attempt: 2).run)
        #expect(inFlight.isEmpty && inFlight.capacity == 0)
    }
}
