public import Access
import DequeModule
import Dispatch
public import Journal
public import Projections
public import Scheduling
import Synchronization

/// The live projection of one process: applies committed events in position order, and
/// answers the questions the command service and the scheduler ask.
///
/// Writers call ``catchUp()`` after their appends commit; it reads every event after the
/// projection's position from the journal, so events are applied in global position order
/// however the appends' completions interleave.
public actor ProjectionStore {
    /// The current projection.
    public private(set) var projection: Projection
    /// Who may use the API: the access stream, folded.
    public private(set) var access = AccessState() {
        didSet { accessView.withLock { $0 = access } }
    }
    private nonisolated let accessView = Mutex(AccessState())

    /// The access state, read without waiting for the actor (every request authenticates).
    public nonisolated var currentAccess: AccessState { accessView.withLock { $0 } }
    private let journal: any Journal
    private let applied: PositionNotifier
    private var busy = false
    /// Callers waiting for their turn to catch up (a burst of commands can queue thousands).
    private var queued = Deque<CheckedContinuation<Void, Never>>()

    /// Times the background digests (see ``recentDigest()``).
    private let timer: any Clock<Duration>

    /// Creates a store starting from `projection` (empty, or loaded from a snapshot);
    /// `timer` times the background digests.
    public init(journal: any Journal, projection: Projection = Projection(), timer: any Clock<Duration> = ContinuousClock()) {
        self.journal = journal
        self.timer = timer
        self.projection = projection
        self.applied = PositionNotifier(head: projection.position)
    }

    /// The position of the last event applied.
    public var position: UInt64 { projection.position }

    /// Applies every committed event after the current position.
    public func catchUp() async throws {
        try await catchUp(through: nil)
    }

    /// Applies committed events until the projection has applied `position` (or, with nil,
    /// everything committed). Callers that wait for each other's catch-up return as soon as
    /// one of them has read far enough, so a burst of commands costs one journal read.
    public func catchUp(through position: UInt64?) async throws {
        if let position, projection.position >= position { return }
        await acquire()
        defer { release() }
        if let position, projection.position >= position { return }
        // What was applied is announced even when a later read fails.
        defer { applied.advance(to: projection.position) }
        try await readThrough(.max)
    }

    /// Applies task events this process has just appended, as committed (`results`, in the
    /// order of `appended`), without reading them back from the journal: its own decisions,
    /// already decoded. Where events of others come first (the projection is not at the
    /// position before an append's first event), it reads the journal as ``catchUp()`` does.
    /// Appends that failed are passed over.
    func apply(appended: [[TaskEvent]], results: [Result<AppendResult, JournalError>]) async throws {
        try await apply(appended: appended, results: results) { _ in () }
    }

    /// As ``apply(appended:results:)``, then reads what `body` makes of the projection, in the
    /// same step.
    func apply<T: Sendable>(
        appended: [[TaskEvent]], results: [Result<AppendResult, JournalError>], then body: (borrowing Projection) -> T
    ) async throws -> T {
        await acquire()
        defer { release() }
        defer { applied.advance(to: projection.position) }
        for (events, result) in zip(appended, results) {
            guard case .success(let written) = result, !events.isEmpty else { continue }
            if projection.position >= written.lastPosition { continue }
            guard projection.position + 1 == written.firstPosition,
                written.lastPosition - written.firstPosition + 1 == UInt64(events.count)
            else {
                try await readThrough(written.lastPosition)
                continue
            }
            let firstVersion = written.streamVersion - UInt64(events.count) + 1
            for (offset, event) in events.enumerated() {
                projection.apply(event, position: written.firstPosition + UInt64(offset), streamVersion: firstVersion + UInt64(offset))
            }
        }
        return body(projection)
    }

    /// Reads and applies the journal's events up to `position`, or to its head if that comes
    /// first (the caller holds the turn).
    private func readThrough(_ position: UInt64) async throws {
        while projection.position < position {
            let batch = try await journal.read(after: projection.position, limit: 4096)
            if batch.isEmpty { break }
            for event in batch {
                try projection.apply(event)
                if event.streamID == AccessEvent.streamID { try applyAccess(event) }
            }
        }
    }

    /// Reads the whole access stream (once, at start: a projection loaded from a snapshot has
    /// skipped the access events before it). Later access events arrive through catch-up.
    public func loadAccess() async throws {
        await acquire()
        defer { release() }
        while true {
            let batch = try await journal.read(stream: AccessEvent.streamID, after: access.version, limit: 1024)
            if batch.isEmpty { break }
            for event in batch { try applyAccess(event) }
        }
    }

    private func applyAccess(_ recorded: RecordedEvent) throws {
        guard recorded.streamVersion > access.version else { return }
        do {
            access.apply(try AccessEventCodec.decode(recorded), streamVersion: recorded.streamVersion)
        } catch {
            throw ProjectionError(position: recorded.position, message: "cannot decode \(recorded.type): \(error)")
        }
    }

    /// Builds the due index the projection was left without (``Projection/deferDueIndex()``),
    /// once the replay that needed none is done.
    public func rebuildDueIndex() { projection.rebuildDueIndex() }

    /// The task's current state.
    public func state(of task: TaskID) -> TaskState? { projection.tasks[task] }

    /// Runs `body` on the current projection, on the store's actor (no copy is made).
    public func read<T: Sendable>(_ body: (borrowing Projection) throws -> T) rethrows -> T {
        try body(projection)
    }

    /// The projection's digest and the position it is at, read together. The digest is
    /// computed from a copy on a thread of its own (seconds for a million tasks), so the
    /// store goes on applying events meanwhile.
    public func digest() async -> (position: UInt64, digest: String) {
        let copy = projection
        let digest = await Self.digest(of: copy)
        remember((copy.position, digest))
        return (copy.position, digest)
    }

    /// The newest digest computed, at once (nil before the first). When the projection has
    /// moved since, a new one is computed in the background, one at a time, and each holds
    /// the next back for nine times as long as it took: a digest reads a copy of the
    /// projection, and while it is read every part the store changes is copied whole, so a
    /// million tasks' digest (seconds) is refreshed for a tenth of the time at most.
    public func recentDigest() -> (position: UInt64, digest: String)? {
        if latestDigest?.position != projection.position, !refreshingDigest {
            refreshingDigest = true
            Task { await self.refreshDigest() }
        }
        return latestDigest
    }

    private var latestDigest: (position: UInt64, digest: String)?
    private var refreshingDigest = false

    private func remember(_ digest: (position: UInt64, digest: String)) {
        if (latestDigest?.position ?? 0) <= digest.position { latestDigest = digest }
    }

    private func refreshDigest() async {
        var computed: (position: UInt64, digest: String)?
        let took = await timer.measure {
            // Scoped: the copy is released as soon as the digest is read.
            let copy = projection
            computed = (copy.position, await Self.digest(of: copy))
        }
        if let computed { remember(computed) }
        try? await timer.sleep(for: took * 9)
        refreshingDigest = false
    }

    private static func digest(of projection: Projection) async -> String {
        await withCheckedContinuation { continuation in
            DispatchQueue.global(qos: .utility).async { continuation.resume(returning: projection.digest) }
        }
    }

    /// Every task's state.
    public var tasks: TaskTable { projection.tasks }

    /// Attempts due at or before `now`, earliest first.
    public func due(at now: Instant, limit: Int) -> [DueEntry] { projection.due(at: now, limit: limit) }

    /// The attempts due at `now` (at most `limit`), set aside until ``releaseReservedDue()``,
    /// and what `body` makes of them on the projection, in one hop.
    func reserveDue<T: Sendable>(
        at now: Instant, limit: Int, in shards: ShardSet?, _ body: ([DueEntry], borrowing Projection) -> T
    ) -> ([DueEntry], T) {
        let entries = projection.due(at: now, limit: limit, in: shards, reserving: true)
        return (entries, body(entries, projection))
    }

    /// Puts back the attempts set aside by ``reserveDue(at:limit:in:_:)`` that are still due.
    func releaseReservedDue() { projection.releaseReservedDue() }

    /// The earliest attempt that will fall due (in `shards`; nil: in any shard).
    public func nextDue(in shards: ShardSet? = nil) -> DueEntry? { projection.nextDue(in: shards) }

    /// Splits the due index into `shardCount` shards (cluster mode).
    public func partitionDueIndex(into shardCount: Int) { projection.partitionDueIndex(into: shardCount) }

    /// Returns once events after `position` have been applied.
    public nonisolated func waitForChange(after position: UInt64) async throws {
        try await applied.wait(after: position)
    }

    // One catch-up at a time: an actor is re-entrant across the journal reads' awaits.
    private func acquire() async {
        if !busy {
            busy = true
            return
        }
        await withCheckedContinuation { queued.append($0) }
    }

    private func release() {
        if queued.isEmpty { busy = false } else { queued.removeFirst().resume() }
    }
}
