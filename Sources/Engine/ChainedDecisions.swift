import Journal
import Projections
import Scheduling

/// Decides many commands at once on the projection, in order: a command on a task that an
/// earlier one in the same batch changed is decided on the state that one left, so both can
/// share one group commit (as consecutive appends with consecutive expected versions).
///
/// Runs on the store (``ProjectionStore/read(_:)``): one hop for the whole batch, and no copy
/// of a task's state unless the batch holds a second command for it.
enum ChainedDecisions {
    /// One decision that produced events.
    struct Decision {
        /// The position of its item in the batch.
        let index: Int
        /// The state it was decided on.
        let state: TaskState
        /// What it decided.
        let events: [TaskEvent]
        /// The append that records it.
        let request: AppendRequest
    }

    /// Decides `items` in order. `command` turns an item and its task's state into a command
    /// (nil: skip the item); `accept` sees each decision's events before it is kept (false:
    /// drop it); `refused` sees each domain refusal. Items of unknown tasks are skipped.
    static func decide<Item>(
        _ items: [Item],
        in projection: borrowing Projection,
        now: Instant,
        task: (Item) -> TaskID,
        command: (Item, TaskState) -> TaskCommand?,
        accept: ([TaskEvent]) -> Bool = { _ in true },
        refused: (Item, any Error) -> Void
    ) -> [Decision] {
        var states: [TaskID: TaskState] = [:]
        var decisions: [Decision] = []
        decisions.reserveCapacity(items.count)
        // Tasks with more than one item here: their later decisions build on the earlier ones.
        var seen = Set<TaskID>(minimumCapacity: items.count)
        var repeated = Set<TaskID>()
        for item in items where !seen.insert(task(item)).inserted { repeated.insert(task(item)) }
        for (index, item) in items.enumerated() {
            let id = task(item)
            let known = states[id]
            guard let state = known != nil ? known : projection.tasks[id] else { continue }
            guard let command = command(item, state) else { continue }
            let events: [TaskEvent]
            do {
                events = try TaskDecider.decide(command, state: state, now: now)
            } catch {
                refused(item, error)
                continue
            }
            guard !events.isEmpty, accept(events) else { continue }
            decisions.append(Decision(index: index, state: state, events: events, request: AppendRequest(events, decidedOn: state, task: id)))
            if repeated.contains(id) {
                var next = state
                for event in events { next.apply(event) }
                states[id] = next
            }
        }
        return decisions
    }
}
