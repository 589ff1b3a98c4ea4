import AlmanacTesting
import Engine
import Foundation
import HTTPTypes
import Journal
import Scheduling
import Server
import Testing

/// Secret header values and per-task signing secrets through the API: sealed as the request is
/// read, never shown, kept by a read-modify-write, and absent from every journal byte.
@Suite struct SecretRouteTests {
    static let token = "Bearer s3cr3t-7f9a2c"
    static let signing = "whsec_" + Data(repeating: 5, count: 32).base64EncodedString()

    static func body(name: String = "secret", headers: String, signing: String? = nil) -> String {
        let extra = signing.map { #","signingSecret":\#($0)"# } ?? ""
        return #"{"name":"\#(name)","schedule":{"every":"1m"},"action":{"url":"http://127.0.0.1:9/hook","headers":\#(headers)\#(extra)}}"#
    }

    /// Every byte the journal holds, and the journal as the API serves it.
    static func everything(_ api: APIHarness) async throws -> String {
        var text = ""
        for record in try await api.journal.read(after: 0, limit: 10_000) {
            text += String(decoding: record.payload, as: UTF8.self) + record.type
        }
        text += try await api.send(.get, "/v1/events?limit=1000").body
        text += try await api.send(.get, "/v1/tasks").body
        return text
    }

    @Test func secretsAreSealedNeverShownAndKeptOnARoundTrip() async throws {
        let box = try SecretBox(key: Array(repeating: 3, count: 32))
        try await APIHarness.with(configuration: APIConfiguration(secrets: box)) { (api: APIHarness) async throws in
            let created = try await api.send(.post, "/v1/tasks", json: Self.body(
                headers: #"{"X-Team":"billing","Authorization":{"value":"\#(Self.token)","secret":true}}"#,
                signing: #""\#(Self.signing)""#
            ))
            #expect(created.status == 201, "\(created.body)")
            let id = try #require(created.object["id"] as? String)
            let action = try #require(created.object["action"] as? [String: Any])
            let headers = try #require(action["headers"] as? [String: Any])
            #expect(headers["X-Team"] as? String == "billing")
            #expect((headers["Authorization"] as? [String: Any])?["secret"] as? Bool == true)
            #expect((headers["Authorization"] as? [String: Any])?["value"] == nil)
            #expect((action["signingSecret"] as? [String: Any])?["secret"] as? Bool == true)
            #expect(!created.body.contains("s3cr3t") && !created.body.contains(Self.signing))

            // The stored definition holds the sealed values, which open to what was given.
            let state = try #require(await api.store.state(of: TaskID(id)))
            let sealed = try #require(state.definition.action.headers.first { $0.name == "Authorization" })
            guard case .sealed(let value) = sealed.value else { Issue.record("stored plain"); return }
            #expect(try box.open(value, task: TaskID(id), field: WebhookAction.sealingField(header: "Authorization")) == Self.token)
            let signingSealed = try #require(state.definition.action.signingSecret)
            #expect(try box.open(signingSealed, task: TaskID(id), field: WebhookAction.signingSecretField) == Self.signing)
            let everything = try await Self.everything(api)
            #expect(!everything.contains("s3cr3t") && !everything.contains(String(Self.signing.dropFirst(6))))

            // GET, change the description, PUT back: the secrets are kept as they were.
            let read = try await api.send(.get, "/v1/tasks/\(id)")
            let inputFields: Set<String> = ["name", "description", "labels", "schedule", "action", "retry", "overlap", "misfire", "misfireLimit", "namespace"]
            var document = read.object.filter { inputFields.contains($0.key) }
            document["description"] = "edited"
            let json = String(decoding: try JSONSerialization.data(withJSONObject: document), as: UTF8.self)
            let edited = try await api.send(.put, "/v1/tasks/\(id)", json: json)
            #expect(edited.status == 200, "\(edited.body)")
            let kept = try #require(await api.store.state(of: TaskID(id)))
            #expect(kept.definition.action.headers == state.definition.action.headers)
            #expect(kept.definition.action.signingSecret == state.definition.action.signingSecret)
            #expect(kept.definition.description == "edited")

            // Sending the same secret again changes nothing (no event); a new one is sealed anew.
            let head = try await api.head
            let same = Self.body(headers: #"{"X-Team":"billing","Authorization":{"value":"\#(Self.token)","secret":true}}"#, signing: #""\#(Self.signing)""#)
            var unchanged = try #require(try JSONSerialization.jsonObject(with: Data(same.utf8)) as? [String: Any])
            unchanged["description"] = "edited"
            let again = try await api.send(.put, "/v1/tasks/\(id)", json: String(decoding: try JSONSerialization.data(withJSONObject: unchanged), as: UTF8.self))
            #expect(again.status == 200)
            #expect(try await api.head == head)
            let rotated = try await api.send(.put, "/v1/tasks/\(id)", json: Self.body(
                headers: #"{"Authorization":{"value":"Bearer rotated-41","secret":true}}"#
            ))
            #expect(rotated.status == 200)
            let now = try #require(await api.store.state(of: TaskID(id)))
            #expect(now.definition.action.signingSecret == nil, "no signingSecret given: the server's secret")
            guard case .sealed(let newValue)? = now.definition.action.headers.first?.value else { Issue.record("not sealed"); return }
            #expect(try box.open(newValue, task: TaskID(id), field: WebhookAction.sealingField(header: "Authorization")) == "Bearer rotated-41")
            #expect(!(try await Self.everything(api)).contains("rotated-41"))
        }
    }

    @Test func anIdempotentRetryWithASecretIsTheSameRequest() async throws {
        try await APIHarness.with { (api: APIHarness) async throws in
            let body = Self.body(headers: #"{"Authorization":{"value":"\#(Self.token)","secret":true}}"#)
            let key: HTTPFields = [HTTPField.Name("Idempotency-Key")!: "secret-create-1"]
            let first = try await api.send(.post, "/v1/tasks", json: body, headers: key)
            #expect(first.status == 201)
            let head = try await api.head
            let second = try await api.send(.post, "/v1/tasks", json: body, headers: key)
            #expect(second.status == 201 && second.header("Idempotent-Replayed") == "true", "\(second.status) \(second.body)")
            // A retry is matched on everything but secret values: "same" or "different" for
            // them would let a caller test guesses at a secret. The stored secret stays.
            let id = try #require(first.object["id"] as? String)
            let stored = await api.store.state(of: TaskID(id))?.definition
            let guess = try await api.send(.post, "/v1/tasks", json: Self.body(headers: #"{"Authorization":{"value":"Bearer other","secret":true}}"#), headers: key)
            #expect(guess.status == 201 && guess.header("Idempotent-Replayed") == "true")
            #expect(await api.store.state(of: TaskID(id))?.definition == stored)
            // Anything else that differs is still a reused key.
            let renamed = try await api.send(.post, "/v1/tasks", json: Self.body(name: "other", headers: #"{"Authorization":{"value":"\#(Self.token)","secret":true}}"#), headers: key)
            #expect(renamed.status == 422)
            let plain = try await api.send(.post, "/v1/tasks", json: Self.body(headers: #"{"Authorization":"\#(Self.token)"}"#), headers: key)
            #expect(plain.status == 422)
            #expect(try await api.head == head)
        }
    }

    @Test func badSecretsAreRefusedByFieldWithoutEchoingThem() async throws {
        try await APIHarness.with { (api: APIHarness) async throws in
            let refusals: [(String, String)] = [
                (Self.body(headers: #"{"Authorization":{"secret":true}}"#), "action.headers.Authorization"),
                (Self.body(headers: #"{"Authorization":{"value":"Bearer a\nb","secret":true}}"#), "action.headers.Authorization"),
                (Self.body(headers: #"{"Authorization":{"value":"Bearer s3cr3t\u0001x","secret":true}}"#), "action.headers.Authorization"),
                (Self.body(headers: #"{"Authorization":{"value":"Bearer s3cr3t\u007f","secret":true}}"#), "action.headers.Authorization"),
                (Self.body(headers: #"{"Authorization":{"value":" Bearer s3cr3t","secret":true}}"#), "action.headers.Authorization"),
                (Self.body(headers: #"{"X-Plain":"s3cr3t\u001b[0m"}"#), "action.headers.X-Plain"),
                (Self.body(headers: #"{"X-Plain":"s3cr3t "}"#), "action.headers.X-Plain"),
                (Self.body(headers: #"{"Authorization":{"value":5,"secret":true}}"#), "action.headers.Authorization.value"),
                (Self.body(headers: #"{"Authorization":{"secret":"yes","value":"x"}}"#), "action.headers.Authorization.secret"),
                (Self.body(headers: #"{"Authorization":{"hidden":true,"value":"x"}}"#), "action.headers.Authorization.hidden"),
                (Self.body(headers: #"{"Authorization":{}}"#), "action.headers.Authorization.value"),
                (Self.body(headers: #"{"Authorization":[]}"#), "action.headers.Authorization"),
                (Self.body(headers: #"{"X-Key":"a","x-key":{"value":"b","secret":true}}"#), "action.headers.x-key"),
                (Self.body(headers: "{}", signing: #""whsec_s3cr3t-not-base64""#), "action.signingSecret"),
                (Self.body(headers: "{}", signing: #""whsec_\#(Data(repeating: 1, count: 8).base64EncodedString())""#), "action.signingSecret"),
                (Self.body(headers: "{}", signing: #"{"secret":true}"#), "action.signingSecret"),
                (Self.body(headers: "{}", signing: "42"), "action.signingSecret"),
            ]
            for (body, field) in refusals {
                let reply = try await api.send(.post, "/v1/tasks", json: body)
                #expect(reply.status == 422 && reply.invalidFields == [field], "\(field): \(reply.status) \(reply.body)")
                #expect(!reply.body.contains("s3cr3t"), "\(reply.body)")
            }
            #expect(try await api.head == 0)
        }
    }

    /// Keeping a secret the server's key cannot open (sealed with a key since lost) is refused,
    /// so the task does not go on failing unnoticed; giving the value again works.
    @Test func keepingASecretOfAnotherKeyIsRefused() async throws {
        let journal = InMemoryJournal()
        let body = Self.body(headers: #"{"Authorization":{"value":"\#(Self.token)","secret":true}}"#, signing: #""\#(Self.signing)""#)
        try await APIHarness.with(journal: journal, configuration: APIConfiguration(secrets: .ephemeral())) { (api: APIHarness) async throws in
            _ = try await api.create(body)
        }
        let id = try #require(try await journal.read(after: 0, limit: 1).first?.streamID.rawValue)
        try await APIHarness.with(journal: journal, configuration: APIConfiguration(secrets: .ephemeral())) { (api: APIHarness) async throws in
            let head = try await api.head
            let keep = Self.body(headers: #"{"Authorization":{"secret":true}}"#, signing: #"{"secret":true}"#)
            let refused = try await api.send(.put, "/v1/tasks/\(id)", json: keep)
            #expect(refused.status == 422)
            #expect(Set(refused.invalidFields) == ["action.headers.Authorization", "action.signingSecret"], "\(refused.body)")
            #expect(refused.body.contains("sealed with key"))
            #expect(try await api.head == head)
            #expect(try await api.send(.put, "/v1/tasks/\(id)", json: body).status == 200)
        }
    }

    /// A token of one namespace learns nothing of another's Idempotency-Keys.
    @Test func anotherNamespacesKeyIsNotLookedUp() async throws {
        try await APIHarness.with { (api: APIHarness) async throws in
            let key: HTTPFields = [HTTPField.Name("Idempotency-Key")!: "shared"]
            let theirs = try await api.create(Bodies.every(name: "theirs", extra: #","namespace":"a""#), headers: key)
            let admin = try await api.send(.post, "/v1/tokens", json: #"{"name":"root","role":"admin"}"#)
            let rootToken = try #require(admin.object["token"] as? String)
            let issued = try await api.send(.post, "/v1/tokens", json: #"{"name":"tenant-b","role":"admin","namespace":"b"}"#,
                                            headers: [.authorization: "Bearer \(rootToken)"])
            let token = try #require(issued.object["token"] as? String)
            var headers = key
            headers[.authorization] = "Bearer \(token)"
            let reply = try await api.send(.post, "/v1/tasks", json: Bodies.every(name: "mine", extra: #","namespace":"a""#), headers: headers)
            #expect(reply.status == 422 && reply.invalidFields == ["namespace"], "\(reply.body)")
            #expect(!reply.body.contains(theirs))
        }
    }
}
