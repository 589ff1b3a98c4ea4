import AlmanacTesting
@testable import Projections
import Testing

/// The index of slots by hash behind the task table and the run log: checked against a
/// dictionary through random inserts, removals and moves, with hashes made to collide.
@Suite("Slot index") struct SlotIndexTests {
    /// Keys 0..<n, each indexed at a slot; `hash(key)` puts many keys on few tags so probes
    /// run long, wrap around the end of the buckets and cross removed ones.
    private struct Model {
        var index = SlotIndex()
        var slots: [Int: Int32] = [:]  // key → slot
        var keys: [Int32: Int] = [:]  // slot → key
        let distinctTags: UInt64

        func hash(_ key: Int) -> UInt64 { (UInt64(key) % distinctTags) << 32 | UInt64(key) }

        func find(_ key: Int) -> Int32? { index.find(hash(key)) { keys[$0] == key } }

        mutating func insert(_ key: Int) {
            let slot = Int32(keys.count)
            index.insert(hash(key), slot: slot)
            slots[key] = slot
            keys[slot] = key
        }

        /// Removes `key`; the key in the last slot moves into its slot (as the table does).
        mutating func remove(_ key: Int) {
            guard let slot = slots.removeValue(forKey: key) else { return }
            index.remove(hash(key), slot: slot)
            let last = Int32(keys.count - 1)
            let moved = keys.removeValue(forKey: last)!
            if slot != last {
                index.move(hash(moved), from: last, to: slot)
                slots[moved] = slot
                keys[slot] = moved
            }
        }

        func check(_ universe: Range<Int>) {
            #expect(index.count == slots.count)
            for key in universe {
                #expect(find(key) == slots[key], "key \(key)")
            }
        }
    }

    @Test(arguments: [1, 3, 1_000_000] as [UInt64])
    func findsWhatAReferenceDictionaryHolds(distinctTags: UInt64) {
        var model = Model(distinctTags: distinctTags)
        var random = SeededRandom(seed: 20_261_124 &+ distinctTags)
        let universe = 0..<600
        for step in 0..<4_000 {
            let key = Int.random(in: universe, using: &random)
            if model.slots[key] == nil, Int.random(in: 0..<3, using: &random) > 0 {
                model.insert(key)
            } else {
                model.remove(key)
            }
            if step % 97 == 0 { model.check(universe) }
        }
        model.check(universe)
        #expect(model.index.count > 100, "the walk leaves the index well filled")
        #expect(model.index.capacity >= model.index.count)
        // Emptied entirely, it finds nothing.
        for key in universe { model.remove(key) }
        model.check(universe)
        #expect(model.index.count == 0)
    }

    @Test func reservedRoomHoldsItsCountWithoutGrowing() {
        var index = SlotIndex(minimumCapacity: 1_000)
        let room = index.footprint
        #expect(index.capacity >= 1_000)
        for slot in 0..<1_000 { index.insert(UInt64(slot) &* 0x9E37_79B9_7F4A_7C15, slot: Int32(slot)) }
        #expect(index.footprint == room)
        for slot in 0..<1_000 {
            let hash = UInt64(slot) &* 0x9E37_79B9_7F4A_7C15
            #expect(index.find(hash) { $0 == Int32(slot) } == Int32(slot))
            #expect(index.find(hash) { _ in false } == nil)
        }
    }
}
