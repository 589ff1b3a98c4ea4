import Synchronization

/// Creations under way per namespace, so that concurrent creates cannot together pass the
/// namespace's task limit.
///
/// A create reserves a place, then reads the reservations, then the projection's count of
/// live tasks, and goes on only when the two together stay within the limit; it releases its
/// place once its own task is in the projection (or it failed). Read in that order, a create
/// that finished in between is counted at least once (in the reservations if it had not yet
/// released, in the projection if it had), so the limit is never passed; near the limit,
/// concurrent creates may count each other twice and one be refused that would have fitted.
final class CreationQuota: Sendable {
    private let pending = Mutex<[String: Int]>([:])

    /// Reserves a place in `namespace`; returns the reservations now held there, this one included.
    func reserve(_ namespace: String) -> Int {
        pending.withLock { counts in
            counts[namespace, default: 0] += 1
            return counts[namespace] ?? 1
        }
    }

    /// Gives a reserved place back.
    func release(_ namespace: String) {
        pending.withLock { counts in
            let left = (counts[namespace] ?? 1) - 1
            counts[namespace] = left > 0 ? left : nil
        }
    }
}
