import Testing

@testable import Scheduling

/// Definitions read from the journal or a snapshot find the fields they share with others by
/// the bytes that store them (`StoredCommonFields`); each keeps its own.
@Suite("Shared fields found by their bytes")
struct StoredCommonFieldsTests {
    /// Reads `definition` back from a `TaskCreated` stored with it.
    static func readBack(_ definition: TaskDefinition, schemaVersion: UInt16 = 3) throws -> TaskDefinition {
        let payload = schemaVersion == 3
            ? EventCodec.encode(TaskEvent(taskID: taskA, at: t0, actor: "alice", kind: .created(definition, nextDueAt: nil))).payload
            : EventCodecTests.legacyCreated(definition, nextDueAt: nil, schemaVersion: schemaVersion)
        let event = try EventCodec.decode(type: "TaskCreated", schemaVersion: schemaVersion, payload: payload, taskID: taskA, at: t0)
        guard case .created(let read, _) = event.kind else {
            Issue.record("read \(event.kind)")
            return definition
        }
        return read
    }

    /// A template's definitions: the same shared fields, their own name, description,
    /// schedule, URL and secret.
    static func made(from template: TaskDefinition, _ number: Int) -> TaskDefinition {
        var definition = template
        definition.name = "task-\(number)-é"
        definition.description = number.isMultiple(of: 2) ? "" : "number \(number)"
        definition.schedule = Schedule(.interval(every: .seconds(Int64(30 + number)), anchor: t0.plus(Int64(number))))
        definition.action.url = "http://127.0.0.1:\(9000 + number)/hook"
        definition.action.signingSecret = number.isMultiple(of: 3) ? SealedSecret(text: "sealed:v1:00112233aabbccdd:\(number)") : nil
        return definition
    }

    @Test func definitionsOfOneTemplateShareItsFieldsAndKeepTheirOwn() throws {
        let first = try Self.readBack(Self.made(from: EventCodecTests.rich, 0))
        for number in 1...12 {
            let definition = Self.made(from: EventCodecTests.rich, number)
            let read = try Self.readBack(definition)
            #expect(read == definition, "definition \(number)")
            #expect(read.name == definition.name && read.action.url == definition.action.url)
            #expect(read.sharesCommonFields(with: first))
        }
    }

    /// Fields that differ in one value, or only in where the stored bytes split them
    /// (labels against the rest), are not taken for one another.
    @Test func fieldsThatDifferAreReadAsTheirOwn() throws {
        var variants: [TaskDefinition] = []
        var base = EventCodecTests.rich
        variants.append(base)
        base.labels["team"] = "billinh"
        variants.append(base)
        base.labels = [:]
        variants.append(base)
        base.action.method = "POST"
        variants.append(base)
        base.action.headers = []
        variants.append(base)
        base.action.body = nil
        variants.append(base)
        base.retry.maxAttempts = 6
        variants.append(base)
        base.misfire = .runAll(limit: 101)
        variants.append(base)
        base.namespace = "ops"
        variants.append(base)
        base.action.headers = [.init(name: "X-Team", sealed: SealedSecret(text: "sealed:v1:00112233aabbccdd:CCCC"))]
        variants.append(base)
        // Twice over: the second round reads every one of them from the memo.
        for _ in 0..<2 {
            for (number, variant) in variants.enumerated() {
                #expect(try Self.readBack(variant) == variant, "variant \(number)")
            }
        }
    }

    /// The same bytes under another schema version read as that version's layout says.
    @Test func olderLayoutsAreKeptApart() throws {
        var definition = EventCodecTests.rich
        definition.namespace = "billing"
        for _ in 0..<2 {
            for version: UInt16 in [1, 2, 3] {
                var expected = definition
                if version == 1 { expected.namespace = TaskDefinition.defaultNamespace }
                #expect(try Self.readBack(definition, schemaVersion: version) == expected, "v\(version)")
            }
        }
    }

    @Test func theHashTellsApartEveryByteAndLength() {
        let bytes = (0..<40).map { UInt8(truncatingIfNeeded: $0 &* 7 &+ 3) }
        var seen = Set<UInt64>()
        bytes.withUnsafeBytes { all in
            for count in 0...all.count {
                #expect(seen.insert(StoredCommonFields.hash(of: UnsafeRawBufferPointer(rebasing: all[..<count]), seed: 3)).inserted)
            }
        }
        for offset in bytes.indices {
            var changed = bytes
            changed[offset] ^= 1
            changed.withUnsafeBytes { #expect(seen.insert(StoredCommonFields.hash(of: $0, seed: 3)).inserted, "offset \(offset)") }
        }
        bytes.withUnsafeBytes { #expect(StoredCommonFields.hash(of: $0, seed: 3) != StoredCommonFields.hash(of: $0, seed: 2)) }
    }

    /// A common part with a body of `size` bytes.
    static func common(body size: Int, _ tag: String = "") -> TaskDefinition.Common {
        TaskDefinition.Common(
            labels: ["k": tag], method: "POST", headers: [], body: String(repeating: "b", count: size), timeout: .seconds(1),
            retry: RetryPolicy(), overlap: .allow, misfire: .runOnce, namespace: "default"
        )
    }

    /// The memo of stored bytes keeps at most its count and its bytes, then starts again.
    @Test func theBytesMemoStaysWithinItsCountAndSize() {
        var table = StoredCommonFields.Table(capacity: 3, byteCapacity: 100)
        let kept = Self.common(body: 1)
        let one: [UInt8] = [1, 2, 3]
        let forty = [UInt8](repeating: 7, count: 40)
        one.withUnsafeBytes { one in
            forty.withUnsafeBytes { forty in
                table.remember(kept, hash: 1, schemaVersion: 3, labels: one, shared: forty)
                #expect(table.common(hash: 1, schemaVersion: 3, labels: one, shared: forty) === kept)
                // Other bytes, another version, another split of the same bytes: not these.
                #expect(table.common(hash: 1, schemaVersion: 2, labels: one, shared: forty) == nil)
                #expect(table.common(hash: 1, schemaVersion: 3, labels: forty, shared: one) == nil)
                #expect(table.common(hash: 1, schemaVersion: 3, labels: UnsafeRawBufferPointer(rebasing: one[..<2]), shared: forty) == nil)
                #expect(table.bytes == 43 && table.count == 1)
                table.remember(Self.common(body: 2), hash: 2, schemaVersion: 3, labels: one, shared: forty)
                #expect(table.count == 2 && table.bytes == 86)
                // 86 + 43 is over 100 bytes: the memo starts again with the newest alone.
                table.remember(Self.common(body: 3), hash: 3, schemaVersion: 3, labels: one, shared: forty)
                #expect(table.count == 1 && table.bytes == 43)
                #expect(table.common(hash: 1, schemaVersion: 3, labels: one, shared: forty) == nil)
                #expect(table.common(hash: 3, schemaVersion: 3, labels: one, shared: forty) != nil)
                table.remember(Self.common(body: 4), hash: 4, schemaVersion: 3, labels: one, shared: one)
                table.remember(Self.common(body: 5), hash: 5, schemaVersion: 3, labels: one, shared: one)
                #expect(table.count == 3)
                table.remember(Self.common(body: 6), hash: 6, schemaVersion: 3, labels: one, shared: one)
                #expect(table.count == 1, "past three entries it starts again")
            }
        }
    }

    /// The memo of shared objects keeps at most its count and its bytes of text, then
    /// starts again: it alone keeps no more alive than that.
    @Test func theSharedObjectsMemoStaysWithinItsCountAndText() {
        var table = SharedParts.Table(capacity: 3, textCapacity: 1_000)
        let big = Self.common(body: 600, "a")
        #expect(table.shared(big, hash: big.hashValue) === big)
        let equal = Self.common(body: 600, "a")
        #expect(table.shared(equal, hash: equal.hashValue) === big, "an equal object is the one kept")
        #expect(table.textBytes == big.textBytes && big.textBytes == 600 + 1 + 1 + 4 + 7)
        let other = Self.common(body: 600, "b")
        #expect(table.shared(other, hash: other.hashValue) === other)
        #expect(table.count == 1, "over 1,000 bytes of text: started again")
        let again = Self.common(body: 600, "a")
        #expect(table.shared(again, hash: again.hashValue) === again, "the first one is no longer kept")
        for number in 0..<3 {
            let small = Self.common(body: 1, "\(number)")
            _ = table.shared(small, hash: small.hashValue)
        }
        #expect(table.count == 1, "past three objects it starts again")
    }

    /// Definitions whose shared fields are stored in more bytes than the memo keeps are read
    /// in full each time, and read right.
    @Test func largeSharedFieldsAreReadEachTime() throws {
        var definition = EventCodecTests.rich
        definition.action.body = String(repeating: "x", count: StoredCommonFields.largest + 1)
        for number in 0..<3 {
            let own = Self.made(from: definition, number)
            #expect(try Self.readBack(own) == own)
        }
    }

    /// A string whose stored length is past `Int.max` (a damaged payload) is refused, not a crash.
    @Test func aLengthPastIntMaxIsRefused() {
        var payload: [UInt8] = Array(repeating: 0xFF, count: 9) + [0x01]  // 2^64 - 1
        payload += [0]
        for type in ["TaskPaused", "RunSucceeded", "TaskCreated"] {
            #expect(throws: EventDecodingError.self) {
                try EventCodec.decode(type: type, schemaVersion: type == "TaskCreated" ? 3 : 1, payload: payload, taskID: taskA, at: t0)
            }
        }
    }
}
