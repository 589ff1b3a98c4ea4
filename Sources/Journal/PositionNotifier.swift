import Synchronization

/// Wakes tasks waiting for a position (a journal's head, a projection's applied position)
/// to pass a given value. Waits end early, with an error, on `close()` or cancellation.
public final class PositionNotifier: Sendable {
    private struct Waiter {
        let position: UInt64
        let continuation: CheckedContinuation<Void, any Error>
    }

    private struct State {
        var head: UInt64
        var closed = false
        var nextID = 0
        var waiters: [Int: Waiter] = [:]
    }

    private let state: Mutex<State>

    /// Creates a notifier whose position starts at `head`.
    public init(head: UInt64) {
        state = Mutex(State(head: head))
    }

    /// The current position.
    public var position: UInt64 { state.withLock { $0.head } }

    /// Records a new position and wakes every waiter it passes.
    public func advance(to head: UInt64) {
        let ready: [Waiter] = state.withLock { state in
            guard head > state.head else { return [] }
            state.head = head
            guard !state.waiters.isEmpty else { return [] }
            var ready: [Waiter] = []
            for (id, waiter) in state.waiters where waiter.position < head {
                ready.append(waiter)
                state.waiters[id] = nil
            }
            return ready
        }
        for waiter in ready { waiter.continuation.resume() }
    }

    /// Wakes every waiter with a "closed" error; later waits fail at once.
    public func close() {
        let all: [Waiter] = state.withLock { state in
            state.closed = true
            defer { state.waiters = [:] }
            return Array(state.waiters.values)
        }
        for waiter in all { waiter.continuation.resume(throwing: JournalError.closedJournal) }
    }

    /// Returns once the position is beyond `position`.
    public func wait(after position: UInt64) async throws {
        let id = state.withLock { state in
            defer { state.nextID += 1 }
            return state.nextID
        }
        try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Void, any Error>) in
                let outcome: Result<Void, any Error>? = state.withLock { state in
                    if state.closed { return .failure(JournalError.closedJournal) }
                    if state.head > position { return .success(()) }
                    if Task.isCancelled { return .failure(CancellationError()) }
                    state.waiters[id] = Waiter(position: position, continuation: continuation)
                    return nil
                }
                if let outcome { continuation.resume(with: outcome) }
            }
        } onCancel: {
            let waiter = state.withLock { state in state.waiters.removeValue(forKey: id) }
            waiter?.continuation.resume(throwing: CancellationError())
        }
    }
}
