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
}
