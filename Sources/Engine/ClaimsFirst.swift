import Synchronization

/// Lets the scheduler's claims go ahead of run outcomes, and in a burst ahead of the calls:
/// while the scheduler is claiming (a tick, or a run of ticks back to back while due attempts
/// remain and slots are free), outcome batches wait for it to end before they are decided and
/// appended; once it finds a full batch due (a burst), the calls of its claims wait too.
///
/// Claims, outcomes and calls share the projection store, the journal's writer and the
/// cores. In a burst, claims that share them take much longer (100,000 due at once, on two
/// cores: 1.2 s with the outcomes flowing, 6 s with the calls running too; ADR 0010).
/// Starting every run durably matters more than recording finished ones a moment sooner, and
/// the calls end no later for waiting, since they no longer slow the claims down. In steady
/// load batches are small and calls do not wait.
///
/// The wait is bounded: a claim holds its dispatcher slot until its outcome is recorded, so
/// the scheduler claims at most the slots free when it began before it runs out, stops, and
/// lets the calls and outcomes through. A tick never waits on them, so this cannot deadlock.
final class ClaimsFirst: Sendable {
    private struct State {
        var ticks = 0
        /// Whether the claiming in progress met a burst (calls wait too).
        var holdingCalls = false
        var outcomes: [CheckedContinuation<Void, Never>] = []
        var calls: [CheckedContinuation<Void, Never>] = []
    }

    private let state = Mutex(State())

    /// Marks the start of claiming (calls nest).
    func claimingStarted() {
        state.withLock { $0.ticks += 1 }
    }

    /// The claiming in progress found a burst: calls wait for it to end too.
    func burstFound() {
        state.withLock { state in
            if state.ticks > 0 { state.holdingCalls = true }
        }
    }

    /// Marks the end of claiming; what waited for it goes on.
    func claimingEnded() {
        let waiting = state.withLock { state -> [CheckedContinuation<Void, Never>] in
            state.ticks -= 1
            guard state.ticks == 0 else { return [] }
            state.holdingCalls = false
            defer {
                state.outcomes = []
                state.calls = []
            }
            return state.outcomes + state.calls
        }
        for waiter in waiting { waiter.resume() }
    }

    /// For outcomes: returns at once when the scheduler is not claiming, or once it stops.
    func waitForClaims() async {
        await withCheckedContinuation { continuation in
            let wait = state.withLock { state in
                if state.ticks > 0 { state.outcomes.append(continuation) }
                return state.ticks > 0
            }
            if !wait { continuation.resume() }
        }
    }

    /// For calls: returns at once unless the scheduler is claiming a burst, then once it stops.
    func waitForBurst() async {
        await withCheckedContinuation { continuation in
            let wait = state.withLock { state in
                let hold = state.ticks > 0 && state.holdingCalls
                if hold { state.calls.append(continuation) }
                return hold
            }
            if !wait { continuation.resume() }
        }
    }
}
