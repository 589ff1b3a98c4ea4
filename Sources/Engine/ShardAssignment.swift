import Journal
public import Projections
import Synchronization

/// Which shards this node's scheduler may claim in: the meeting point of whoever grants
/// shards (a single node holds its one shard for good; a cluster node takes shards with
/// PostgreSQL advisory locks) and the ``Scheduler``.
///
/// - A shard **acquired** becomes claimable once the scheduler has caught up with the journal
///   (and noted the runs the shard's previous owner left in flight, to recover them once
///   their webhook timeout has passed).
/// - A shard **lost** (the lock went with its connection) stops being claimed at once.
/// - A shard to **release** stops being claimed at once; the scheduler confirms the release
///   between two ticks, so every claim it made in the shard is committed before the lock is
///   given up and the next owner reads the journal.
public final class ShardAssignment: Sendable {
    /// What the scheduler reads.
    public struct View: Sendable, Hashable {
        /// Shards this node holds.
        public var held: ShardSet
        /// Held shards to stop claiming in and hand back.
        public var releasing: ShardSet
    }

    /// The number of shards tasks hash into.
    public let shardCount: Int
    private let state: Mutex<(view: View, released: ShardSet, generation: UInt64)>
    private let changes = PositionNotifier(head: 0)

    /// An assignment of `shardCount` shards, holding `held` from the start.
    public init(shardCount: Int, held: ShardSet = ShardSet()) {
        self.shardCount = max(1, shardCount)
        state = Mutex((View(held: held, releasing: ShardSet()), ShardSet(), 0))
    }

    /// A single node: one shard, held for good.
    public static func sole() -> ShardAssignment { ShardAssignment(shardCount: 1, held: ShardSet([0])) }

    /// The current view and its generation (it grows at every change).
    public var view: (view: View, generation: UInt64) { state.withLock { ($0.view, $0.generation) } }

    /// Returns once the assignment changed after `generation`.
    public func waitForChange(after generation: UInt64) async throws { try await changes.wait(after: generation) }

    // MARK: The granting side

    /// Shards now held.
    public func acquired(_ shards: ShardSet) {
        change { $0.view.held = $0.view.held.union(shards) }
    }

    /// Shards no longer held (their locks are gone): not claimed in from now on.
    public func lost(_ shards: ShardSet) {
        change {
            $0.view.held = $0.view.held.subtracting(shards)
            $0.view.releasing = $0.view.releasing.subtracting(shards)
            $0.released = $0.released.subtracting(shards)
        }
    }

    /// Asks the scheduler to stop claiming in `shards` and confirm it.
    public func requestRelease(_ shards: ShardSet) {
        change { $0.view.releasing = $0.view.releasing.union(shards).intersection($0.view.held) }
    }

    /// The shards whose release the scheduler confirmed since the last call; they are no
    /// longer held.
    public func takeReleased() -> ShardSet {
        state.withLock { state in
            defer { state.released = ShardSet() }
            return state.released
        }
    }

    // MARK: The scheduler's side

    /// Confirms that the scheduler no longer claims in `shards`: they may be handed back.
    public func confirmReleased(_ shards: ShardSet) {
        change {
            let confirmed = shards.intersection($0.view.releasing)
            $0.view.releasing = $0.view.releasing.subtracting(confirmed)
            $0.view.held = $0.view.held.subtracting(confirmed)
            $0.released = $0.released.union(confirmed)
        }
    }

    private func change(_ body: (inout (view: View, released: ShardSet, generation: UInt64)) -> Void) {
        let generation: UInt64 = state.withLock { state in
            let before = state.view
            body(&state)
            if state.view != before { state.generation += 1 }
            return state.generation
        }
        changes.advance(to: generation)
    }
}
