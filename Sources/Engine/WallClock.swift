public import Scheduling

/// The engine's only source of time: the current instant, and sleeping until one.
///
/// The executable wires the system clock; tests drive a manual clock, so the scheduler is
/// tested without real sleeps.
public protocol WallClock: Sendable {
    /// The current instant.
    func now() -> Instant

    /// Returns at or after `deadline`; throws `CancellationError` when the task is cancelled.
    func sleep(until deadline: Instant) async throws
}
