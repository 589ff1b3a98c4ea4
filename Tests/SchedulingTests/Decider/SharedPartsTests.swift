import Testing

@testable import Scheduling

/// Definitions share the fields they have in common with others (labels, headers, body,
/// policies): one copy in memory for many tasks, and the same values as before.
@Suite("Shared definition parts")
struct SharedPartsTests {
    /// The address of a value's heap storage (a collection or a string of over 15 bytes).
    private func storage<T>(of value: T) -> UnsafeRawPointer {
        precondition(MemoryLayout<T>.size == 8, "a single reference")
        return unsafeBitCast(value, to: UnsafeRawPointer.self)
    }

    private func textStorage(_ text: String) -> UnsafeRawPointer? {
        text.utf8.withContiguousStorageIfAvailable { UnsafeRawPointer($0.baseAddress) } ?? nil
    }

    private func definition(name: String, body: String) -> TaskDefinition {
        TaskDefinition(
            name: name,
            labels: ["team": "billing", "tier": "gold"],
            schedule: Schedule(.interval(every: .seconds(60), anchor: Instant(secondsSinceEpoch: 0))),
            action: WebhookAction(
                url: "https://hooks.example.invalid/almanac/run",
                headers: [.init(name: "Content-Type", value: "application/json")],
                body: body
            )
        )
    }

    private func decoded(_ definition: TaskDefinition, task: TaskID) throws -> TaskDefinition {
        let event = TaskEvent(taskID: task, at: Instant(secondsSinceEpoch: 1), actor: "test", kind: .created(definition, nextDueAt: nil))
        let encoded = EventCodec.encode(event)
        let back = try EventCodec.decode(
            type: encoded.type, schemaVersion: encoded.schemaVersion, payload: encoded.payload,
            taskID: task, at: event.at
        )
        guard case .created(let result, _) = back.kind else { throw EventDecodingError(message: "not a creation") }
        return result
    }

    @Test func decodedDefinitionsOfOneTemplateShareTheirCommonFields() throws {
        let template = #"{"task":"{{taskId}}","run":"{{runId}}"}"#
        let first = try decoded(definition(name: "a", body: template), task: "a")
        let second = try decoded(definition(name: "b", body: template), task: "b")
        #expect(first == definition(name: "a", body: template))
        #expect(second == definition(name: "b", body: template))
        #expect(first.sharesCommonFields(with: second))
        #expect(storage(of: first.labels) == storage(of: second.labels))
        #expect(storage(of: first.action.headers) == storage(of: second.action.headers))
        #expect(textStorage(first.action.body!) == textStorage(second.action.body!))
        // Different values stay apart.
        let third = try decoded(definition(name: "c", body: #"{"other":"{{taskId}}"}"#), task: "c")
        #expect(third.action.body == #"{"other":"{{taskId}}"}"#)
        #expect(!third.sharesCommonFields(with: first))
        #expect(textStorage(third.action.body!) != textStorage(first.action.body!))
    }

    @Test func definitionsOfOneTemplateShareTheirCommonFieldsAndStayValues() {
        let template = #"{"task":"{{taskId}}"}"#
        var first = definition(name: "a", body: template)
        let second = definition(name: "b", body: template)
        #expect(first.sharesCommonFields(with: second))
        #expect(first != second)
        // Changing one changes only that one; equal values share again.
        first.labels["tier"] = "silver"
        #expect(first.labels == ["team": "billing", "tier": "silver"])
        #expect(second.labels == ["team": "billing", "tier": "gold"])
        #expect(!first.sharesCommonFields(with: second))
        first.action.timeout = .seconds(5)
        #expect(first.action.timeout == .seconds(5) && second.action.timeout == .seconds(30))
        #expect(first.action.url == second.action.url && first.action.body == template)
        first.labels["tier"] = "gold"
        first.action.timeout = .seconds(30)
        #expect(first.sharesCommonFields(with: second))
        #expect(first == definition(name: "a", body: template))
        // A task's own fields are its own.
        first.action.url = "https://elsewhere.example.invalid/"
        #expect(second.action.url == "https://hooks.example.invalid/almanac/run")
        #expect(first.sharesCommonFields(with: second))
        var sealed = second
        sealed.action.signingSecret = SealedSecret(text: "sealed:v1:0123456789abcdef:AAAA")
        #expect(sealed.holdsSealedValues && !second.holdsSealedValues)
        #expect(sealed.sharesCommonFields(with: second))
    }
}
