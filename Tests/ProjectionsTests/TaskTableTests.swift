import Projections
import Scheduling
import Testing

/// The task table: states in arrays found through hash tables of slots, in 64 parts.
@Suite("Task table") struct TaskTableTests {
    private func state(_ id: TaskID, version: UInt64 = 1) -> TaskState {
        var state = TaskState(id: id, definition: everyMinute(id.rawValue), createdAt: seconds(0), nextDueAt: seconds(60))
        state.version = version
        return state
    }

    @Test func tasksAreFoundChangedInPlaceAndRemoved() throws {
        let ids = (0..<2_000).map { TaskID("task-\($0)") }
        var table = TaskTable()
        for id in ids { table[id] = state(id) }
        #expect(table.count == ids.count)
        #expect(table.capacity >= ids.count)

        // Replacing keeps the count; changing in place through an index is seen by lookups.
        table[ids[7]] = state(ids[7], version: 5)
        let index = try #require(table.index(forKey: ids[8]))
        table[index].version = 9
        #expect(table.count == ids.count)
        #expect(table[ids[7]]?.version == 5)
        #expect(table[ids[8]]?.version == 9)

        // Removing every third task moves others into the freed slots; each is still found
        // under its own id.
        let removed = Set(ids.enumerated().filter { $0.offset % 3 == 0 }.map(\.element))
        for id in removed { table[id] = nil }
        table[TaskID("never-there")] = nil
        #expect(table.count == ids.count - removed.count)
        for id in ids {
            if removed.contains(id) {
                #expect(table[id] == nil)
                #expect(table.index(forKey: id) == nil)
            } else {
                #expect(table[id]?.id == id)
            }
        }
        #expect(table[ids[8]]?.version == 9)
        let listed = table.keys.map(\.rawValue)
        #expect(listed.count == table.count)
        #expect(Set(listed) == Set(ids.filter { !removed.contains($0) }.map(\.rawValue)))
        #expect(Array(table.values).count == table.count)
        #expect(table.allSatisfy { $0.key == $0.value.id })
    }

    @Test func tablesAreEqualWhateverTheOrderTheirTasksCameIn() {
        let ids = (0..<500).map { TaskID("t\($0)") }
        var forward = TaskTable()
        for id in ids { forward[id] = state(id) }
        var backward = TaskTable()
        for id in ids.reversed() { backward[id] = state(id) }
        #expect(forward == backward)
        backward[ids[42]] = state(ids[42], version: 2)
        #expect(forward != backward)
        backward[ids[42]] = nil
        #expect(forward != backward)
        forward[ids[42]] = nil
        #expect(forward == backward)
    }
}

@Suite("Process memory") struct ProcessMemoryTests {
    @Test func largeBlocksAreKeptMappedOnLinux() {
        #if os(Linux)
        // glibc's mallopt is found and accepts the threshold (it returns 0 on a refusal).
        #expect(ProcessMemory.mapLargeBlocks())
        #endif
    }
}
