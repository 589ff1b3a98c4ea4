import Engine
import Foundation
import Scheduling

/// The real clock: the one place the server reads the system time. Everything else receives
/// it as a ``WallClock``.
struct SystemWallClock: WallClock {
    func now() -> Instant { Instant(Date()) }

    func sleep(until deadline: Instant) async throws {
        let delay = deadline - now()
        if delay > .zero { try await Task.sleep(for: delay) }
    }
}
