public import Engine
import Foundation
public import Scheduling

/// The real wall clock, for live tests (the executable wires its own).
public struct SystemClock: WallClock {
    /// Creates the clock.
    public init() {}

    public func now() -> Instant { Instant(Date()) }

    public func sleep(until deadline: Instant) async throws {
        let remaining = deadline - now()
        if remaining > .zero { try await Task.sleep(for: remaining) }
    }
}
