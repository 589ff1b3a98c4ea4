import AlmanacTesting
import Foundation
import HTTPTypes
import Engine
import Journal
import Projections
import Scheduling
import Server
import Testing

/// Tokens, roles and the 401/403 rules, through the API's routes.
@Suite struct AuthRouteTests {
    /// Headers carrying `token` as a bearer token.
    private func bearer(_ token: String) -> HTTPFields {
        var headers = HTTPFields()
        headers[.authorization] = "Bearer \(token)"
        return headers
    }

    /// Issues a token through the API (authenticated by `as`, if given) and returns its text.
    private func issue(_ api: APIHarness, _ name: String, _ role: String, as admin: String? = nil) async throws -> String {
        let reply = try await api.send(
            .post, "/v1/tokens", json: #"{"name":"\#(name)","role":"\#(role)"}"#, headers: admin.map(bearer) ?? [:]
        )
        guard reply.status == 201, let token = reply.object["token"] as? String else {
            throw HarnessError("issuing \(name) failed: \(reply.status) \(reply.body)")
        }
        #expect(reply.header("Cache-Control") == "no-store")
        return token
    }

    @Test func theAPIIsOpenUntilATokenExistsThenEveryV1RouteAsksForOne() async throws {
        try await APIHarness.with { api in
            let id = try await api.create(Bodies.every())
            #expect(try await api.send(.get, "/v1/whoami").object["authRequired"] as? Bool == false)
            let admin = try await issue(api, "root", "admin")
            let head = try await api.head

            for (method, path) in [
                (HTTPRequest.Method.get, "/v1/tasks"), (.get, "/v1/tasks/\(id)"), (.get, "/v1/runs"), (.get, "/v1/events"),
                (.get, "/v1/tokens"), (.post, "/v1/tasks/\(id)/pause"), (.delete, "/v1/tasks/\(id)"), (.get, "/v1/stream"),
                (.get, "/v1/openapi.json"), (.post, "/v1/tasks"),
            ] {
                let reply = try await api.send(method, path, json: method == .post && path == "/v1/tasks" ? Bodies.every() : nil)
                #expect(reply.status == 401, "\(method) \(path)")
                #expect(reply.header("Content-Type") == "application/problem+json")
                #expect(reply.header("WWW-Authenticate")?.hasPrefix("Bearer realm=\"almanac\"") == true)
                #expect(reply.object["type"] as? String == "urn:almanac:problem:unauthorized")
            }
            let altered = admin.dropLast() + (admin.hasSuffix("x") ? "y" : "x")
            for header in ["Basic cm9vdDpyb290", "Bearer", "Bearer alm_nope", "Bearer " + altered] {
                var headers = HTTPFields()
                headers[.authorization] = header
                #expect(try await api.send(.get, "/v1/tasks", headers: headers).status == 401, "\(header)")
            }
            // Health, readiness and (unprotected) metrics stay open; nothing was appended.
            #expect(try await api.send(.get, "/healthz").status == 200)
            #expect(try await api.send(.get, "/metrics").status == 200)
            #expect(try await api.head == head)

            #expect(try await api.send(.get, "/v1/tasks", headers: bearer(admin)).status == 200)
            let me = try await api.send(.get, "/v1/whoami", headers: bearer(admin)).object
            #expect((me["token"] as? [String: Any])?["name"] as? String == "root")
            #expect(me["authRequired"] as? Bool == true)
        }
    }

    @Test func eachRoleGetsExactlyItsRoutesAndRefusalsAppendNothing() async throws {
        try await APIHarness.with { api in
            let admin = try await issue(api, "root", "admin")
            let viewer = try await issue(api, "watcher", "viewer", as: admin)
            let operator_ = try await issue(api, "oncall", "operator", as: admin)
            let id = try await api.create(Bodies.every(), headers: bearer(admin))

            // (method, path, body, least role)
            let routes: [(HTTPRequest.Method, String, String?, String)] = [
                (.get, "/v1/tasks", nil, "viewer"),
                (.get, "/v1/tasks/\(id)", nil, "viewer"),
                (.get, "/v1/tasks/\(id)/runs", nil, "viewer"),
                (.get, "/v1/tasks/\(id)/events", nil, "viewer"),
                (.get, "/v1/runs", nil, "viewer"),
                (.get, "/v1/events", nil, "viewer"),
                (.post, "/v1/schedules/preview", #"{"schedule":{"every":"1m"}}"#, "viewer"),
                (.post, "/v1/tasks/\(id)/pause", nil, "operator"),
                (.post, "/v1/tasks/\(id)/resume", nil, "operator"),
                (.post, "/v1/tasks/\(id)/trigger", nil, "operator"),
                (.put, "/v1/tasks/\(id)", Bodies.every("20s"), "admin"),
                (.post, "/v1/tasks", Bodies.every(name: "second"), "admin"),
                (.get, "/v1/tokens", nil, "admin"),
                (.post, "/v1/tokens", #"{"name":"extra","role":"viewer"}"#, "admin"),
                (.delete, "/v1/tasks/\(id)", nil, "admin"),
            ]
            let rank = ["viewer": 0, "operator": 1, "admin": 2]
            for (method, path, body, least) in routes {
                for (role, token) in [("viewer", viewer), ("operator", operator_), ("admin", admin)] {
                    let head = try await api.head
                    let reply = try await api.send(method, path, json: body, headers: bearer(token))
                    if rank[role]! >= rank[least]! {
                        #expect((200..<300).contains(reply.status), "\(role) \(method) \(path): \(reply.status) \(reply.body)")
                        if method != .get, reply.status < 300 { break }  // done once: later roles would repeat the command
                    } else {
                        #expect(reply.status == 403, "\(role) \(method) \(path): \(reply.status)")
                        #expect(reply.object["type"] as? String == "urn:almanac:problem:forbidden")
                        #expect((reply.object["detail"] as? String)?.contains("needs \(least)") == true)
                        #expect(try await api.head == head, "a refused \(method) \(path) appended")
                    }
                }
            }
        }
    }

    @Test func theActorRecordedIsTheTokensNameWhateverTheActorHeaderSays() async throws {
        try await APIHarness.with { api in
            let admin = try await issue(api, "root", "admin")
            let operator_ = try await issue(api, "oncall", "operator", as: admin)
            var headers = bearer(admin)
            headers[HTTPField.Name("Almanac-Actor")!] = "someone-else"
            let id = try await api.create(Bodies.every(), headers: headers)
            var pause = bearer(operator_)
            pause[HTTPField.Name("Almanac-Reason")!] = "maintenance"
            #expect(try await api.send(.post, "/v1/tasks/\(id)/pause", headers: pause).status == 200)
            let events = try await api.send(.get, "/v1/tasks/\(id)/events", headers: bearer(admin)).items
            #expect(events.map { $0["actor"] as? String } == ["root", "oncall"])
            #expect(events.last?["reason"] as? String == "maintenance")
            // The access stream is not a task's: the global event list and stream leave it out.
            let all = try await api.send(.get, "/v1/events", headers: bearer(admin)).items
            #expect(all.allSatisfy { ($0["taskId"] as? String) == id })
        }
    }

    @Test func revokedTokensStopWorkingAndTokensNeverShowTheirSecret() async throws {
        try await APIHarness.with { api in
            let admin = try await issue(api, "root", "admin")
            let viewer = try await issue(api, "watcher", "viewer", as: admin)
            let list = try await api.send(.get, "/v1/tokens", headers: bearer(admin))
            #expect(list.items.count == 2)
            #expect(!list.body.contains(String(viewer.suffix(43))) && !list.body.contains("hash"))
            let id = try #require(list.items.first { $0["name"] as? String == "watcher" }?["id"] as? String)
            #expect(viewer.hasPrefix("alm_\(id)_"))

            #expect(try await api.send(.post, "/v1/tokens", json: #"{"name":"watcher","role":"admin"}"#, headers: bearer(admin)).status == 409)
            let invalid = try await api.send(.post, "/v1/tokens", json: #"{"name":"","role":"root","extra":1}"#, headers: bearer(admin))
            #expect(invalid.status == 422)
            #expect(Set(invalid.invalidFields) == ["name", "role", "extra"])
            let namespaced = try await api.send(.post, "/v1/tokens", json: #"{"name":"tenant","role":"admin","namespace":"Team A"}"#, headers: bearer(admin))
            #expect(namespaced.status == 422 && namespaced.invalidFields == ["namespace"])

            #expect(try await api.send(.get, "/v1/tasks", headers: bearer(viewer)).status == 200)
            #expect(try await api.send(.delete, "/v1/tokens/\(id)", headers: bearer(admin)).status == 204)
            #expect(try await api.send(.get, "/v1/tasks", headers: bearer(viewer)).status == 401)
            #expect(try await api.send(.delete, "/v1/tokens/\(id)", headers: bearer(admin)).status == 409)
            #expect(try await api.send(.delete, "/v1/tokens/nosuchtoken00000", headers: bearer(admin)).status == 404)
            let revoked = try await api.send(.get, "/v1/tokens/\(id)", headers: bearer(admin)).object
            #expect(revoked["active"] as? Bool == false && revoked["revokedAt"] is String)
            // The last admin token cannot be revoked through the API (everyone would be locked
            // out); and revoking tokens never opens the API again.
            let adminID = String(admin.dropFirst(4).prefix(16))
            let last = try await api.send(.delete, "/v1/tokens/\(adminID)", headers: bearer(admin))
            #expect(last.status == 409 && last.body.contains("last active admin"))
            #expect(try await api.send(.get, "/v1/tasks").status == 401)
            // A token's text in the path names its id, and is never repeated in an answer.
            let byText = try await api.send(.get, "/v1/tokens/\(viewer)", headers: bearer(admin))
            #expect(byText.status == 200 && byText.object["name"] as? String == "watcher")
            let unknown = "alm_0000000000000000_" + String(viewer.suffix(43))
            let missing = try await api.send(.get, "/v1/tokens/\(unknown)", headers: bearer(admin))
            #expect(missing.status == 404 && !missing.body.contains(String(viewer.suffix(43))))
            for reserved in ["api", "cli", "web-ui", "scheduler", "abcdefgh12345678", "alm_x"] {
                let reply = try await api.send(.post, "/v1/tokens", json: #"{"name":"\#(reserved)","role":"viewer"}"#, headers: bearer(admin))
                #expect(reply.status == 422 && reply.invalidFields == ["name"], "\(reserved)")
            }
        }
    }

    @Test func requireAuthAsksForATokenBeforeAnyExistsAndCanProtectMetrics() async throws {
        try await APIHarness.with(configuration: APIConfiguration(requireAuth: true, protectMetrics: true)) { (api: APIHarness) async throws in
            let tasks = try await api.send(.get, "/v1/tasks")
            let token = try await api.send(.post, "/v1/tokens", json: #"{"name":"root","role":"admin"}"#)
            let metrics = try await api.send(.get, "/metrics")
            let health = try await api.send(.get, "/healthz")
            let ready = try await api.send(.get, "/readyz")
            #expect(tasks.status == 401 && token.status == 401 && metrics.status == 401)
            #expect(health.status == 200 && ready.status != 401)
            let head = try await api.head
            #expect(head == 0)
        }
    }
}

/// Webhook URLs the address policy refuses are refused when a task is saved (422 on
/// `action.url`), and nothing is appended.
@Suite struct AddressPolicyRouteTests {
    @Test func refusedAddressesAreNamedAndNothingIsAppended() async throws {
        try await APIHarness.with { api in
            for url in ["http://169.254.169.254/latest", "http://[fe80::1]/x", "http://[::ffff:169.254.169.254]/", "https://100.100.100.200/"] {
                let reply = try await api.send(.post, "/v1/tasks", json: Bodies.every(url: url))
                #expect(reply.status == 422, "\(url): \(reply.status)")
                #expect(reply.invalidFields == ["action.url"], "\(url)")
                #expect(reply.body.contains("address policy"))
            }
            #expect(try await api.head == 0)
            let id = try await api.create(Bodies.every(url: "http://localhost:9/ok"))
            let put = try await api.send(.put, "/v1/tasks/\(id)", json: Bodies.every(url: "http://169.254.169.254/"))
            #expect(put.status == 422 && put.invalidFields == ["action.url"])
        }
        try await APIHarness.with(configuration: APIConfiguration(addressPolicy: AddressPolicy(denyPrivate: true))) { (api: APIHarness) async throws in
            let reply = try await api.send(.post, "/v1/tasks", json: Bodies.every(url: "http://localhost:9/hook"))
            #expect(reply.status == 422)
            #expect(reply.body.contains("localhost resolves to 127.0.0.1") || reply.body.contains("localhost resolves to ::1"), "\(reply.body)")
            let head = try await api.head
            #expect(head == 0)
        }
    }
}

/// The per-caller token bucket: 429 with Retry-After and problem+json, counted in metrics.
@Suite struct RateLimitRouteTests {
    @Test func eachCallerHasItsOwnBucketRefilledOverTime() async throws {
        let configuration = APIConfiguration(rateLimit: (perSecond: 2, burst: 3))
        try await APIHarness.with(configuration: configuration) { (api: APIHarness) async throws in
            // Without tokens the client address is the caller.
            for _ in 0..<3 { #expect(try await api.send(.get, "/v1/tasks").status == 200) }
            let limited = try await api.send(.get, "/v1/tasks")
            #expect(limited.status == 429)
            #expect(limited.header("Retry-After") == "1")
            #expect(limited.header("Content-Type") == "application/problem+json")
            #expect(limited.object["type"] as? String == "urn:almanac:problem:rate-limited")
            // Health and metrics are not limited; the refusal is counted.
            #expect(try await api.send(.get, "/healthz").status == 200)
            #expect(try await api.send(.get, "/metrics").body.contains("almanac_rate_limited_total 1"))
            // Half a second refills one request at 2/s.
            api.clock.advance(by: .milliseconds(500))
            #expect(try await api.send(.get, "/v1/tasks").status == 200)
            #expect(try await api.send(.get, "/v1/tasks").status == 429)

            // With tokens, each token has its own bucket.
            api.clock.advance(by: .seconds(10))
            let first = try await api.send(.post, "/v1/tokens", json: #"{"name":"a","role":"admin"}"#)
            let a = try #require(first.object["token"] as? String)
            var headers = HTTPFields()
            headers[.authorization] = "Bearer \(a)"
            let second = try await api.send(.post, "/v1/tokens", json: #"{"name":"b","role":"admin"}"#, headers: headers)
            let b = try #require(second.object["token"] as? String)
            for _ in 0..<2 { #expect(try await api.send(.get, "/v1/tasks", headers: headers).status == 200) }
            #expect(try await api.send(.get, "/v1/tasks", headers: headers).status == 429)
            var other = HTTPFields()
            other[.authorization] = "Bearer \(b)"
            #expect(try await api.send(.get, "/v1/tasks", headers: other).status == 200)

            // Refused and unmatched requests count against the client address: guessing
            // tokens is limited like anything else.
            api.clock.advance(by: .seconds(10))
            var guess = HTTPFields()
            guess[.authorization] = "Bearer alm_0000000000000000_" + String(repeating: "x", count: 43)
            var statuses: [Int] = []
            for _ in 0..<4 { statuses.append(try await api.send(.get, "/v1/tasks", headers: guess).status) }
            #expect(statuses == [401, 401, 401, 429])
            api.clock.advance(by: .seconds(10))
            var unmatched: [Int] = []
            for _ in 0..<4 { unmatched.append(try await api.send(.get, "/v1/nothing-here").status) }
            #expect(unmatched == [404, 404, 404, 429])
        }
    }
}

/// Namespaces: a token limited to one sees and changes only its tasks and tokens; another
/// namespace's task answers 404 on every route, exactly like a task that does not exist.
@Suite struct NamespaceRouteTests {
    private func bearer(_ token: String) -> HTTPFields {
        var headers = HTTPFields()
        headers[.authorization] = "Bearer \(token)"
        return headers
    }

    private func issue(_ api: APIHarness, _ body: String, as admin: String? = nil) async throws -> String {
        let reply = try await api.send(.post, "/v1/tokens", json: body, headers: admin.map(bearer) ?? [:])
        guard reply.status == 201, let token = reply.object["token"] as? String else { throw HarnessError("\(reply.status) \(reply.body)") }
        return token
    }

    @Test func tenantsCannotSeeOrChangeEachOthersTasksOnAnyRoute() async throws {
        try await APIHarness.with { api in
            let root = try await issue(api, #"{"name":"root","role":"admin"}"#)
            let a = try await issue(api, #"{"name":"a-admin","role":"admin","namespace":"team-a"}"#, as: root)
            let b = try await issue(api, #"{"name":"b-admin","role":"admin","namespace":"team-b"}"#, as: root)
            let taskA = try await api.create(Bodies.every(name: "a-task"), headers: bearer(a))
            let taskB = try await api.create(Bodies.every(name: "b-task"), headers: bearer(b))
            let taskD = try await api.create(Bodies.every(name: "d-task"), headers: bearer(root))
            let shownA = try await api.send(.get, "/v1/tasks/\(taskA)", headers: bearer(a)).object
            #expect(shownA["namespace"] as? String == "team-a")
            #expect(try await api.send(.get, "/v1/tasks/\(taskD)", headers: bearer(root)).object["namespace"] as? String == "default")

            let head = try await api.head
            let missing = "t0000000000000000000000000000"
            for id in [taskA, taskD, missing] {
                let routes: [(HTTPRequest.Method, String, String?)] = [
                    (.get, "/v1/tasks/\(id)", nil), (.get, "/v1/tasks/\(id)?asOf=1", nil),
                    (.put, "/v1/tasks/\(id)", Bodies.every("30s", name: "taken")), (.delete, "/v1/tasks/\(id)", nil),
                    (.post, "/v1/tasks/\(id)/pause", nil), (.post, "/v1/tasks/\(id)/resume", nil),
                    (.post, "/v1/tasks/\(id)/trigger", nil), (.get, "/v1/tasks/\(id)/runs", nil), (.get, "/v1/tasks/\(id)/events", nil),
                ]
                for (method, path, body) in routes {
                    let reply = try await api.send(method, path, json: body, headers: bearer(b))
                    #expect(reply.status == 404, "\(method) \(path): \(reply.status) \(reply.body)")
                    if path.hasSuffix("?asOf=1") { continue }
                    #expect(reply.object["detail"] as? String == "no task has the id \(id)", "\(method) \(path)")
                }
            }
            #expect(try await api.head == head, "a cross-tenant attempt appended")

            // Lists and the event log show only the tenant's own.
            let listed = try await api.send(.get, "/v1/tasks", headers: bearer(b)).items.compactMap { $0["id"] as? String }
            #expect(listed == [taskB])
            let all = try await api.send(.get, "/v1/tasks", headers: bearer(root)).items.compactMap { $0["id"] as? String }
            #expect(Set(all) == [taskA, taskB, taskD])
            let filtered = try await api.send(.get, "/v1/tasks?namespace=team-a", headers: bearer(root)).items.compactMap { $0["id"] as? String }
            #expect(filtered == [taskA])
            let events = try await api.send(.get, "/v1/events?limit=1000", headers: bearer(b)).items
            #expect(!events.isEmpty && events.allSatisfy { $0["taskId"] as? String == taskB })
            #expect(try await api.send(.get, "/v1/runs", headers: bearer(b)).status == 200)

            // Creating in another namespace, or moving a task, is refused.
            let elsewhere = try await api.send(.post, "/v1/tasks", json: Bodies.every(extra: #","namespace":"team-a""#), headers: bearer(b))
            #expect(elsewhere.status == 422 && elsewhere.invalidFields == ["namespace"])
            let moved = try await api.send(.put, "/v1/tasks/\(taskB)", json: Bodies.every(extra: #","namespace":"team-c""#), headers: bearer(b))
            #expect(moved.status == 422 && moved.invalidFields == ["namespace"])
            #expect(try await api.send(.put, "/v1/tasks/\(taskB)", json: Bodies.every("20s", name: "b-task"), headers: bearer(b)).status == 200)

            // One Idempotency-Key in two namespaces names two tasks.
            var keyed = bearer(a)
            keyed[HTTPField.Name("Idempotency-Key")!] = "nightly"
            let firstKeyed = try await api.create(Bodies.every(name: "keyed"), headers: keyed)
            keyed[.authorization] = "Bearer \(b)"
            let secondKeyed = try await api.create(Bodies.every(name: "keyed"), headers: keyed)
            #expect(firstKeyed != secondKeyed)
            // A key spelled like another namespace's never reaches its task.
            var spoof = bearer(root)
            spoof[HTTPField.Name("Idempotency-Key")!] = "team-a/nightly"
            let spoofed = try await api.send(.post, "/v1/tasks", json: Bodies.every(name: "other"), headers: spoof)
            #expect(spoofed.status == 201 && spoofed.object["id"] as? String != firstKeyed)

            // Tokens: a namespaced admin manages its namespace's tokens only.
            let own = try await api.send(.get, "/v1/tokens", headers: bearer(b)).items.compactMap { $0["name"] as? String }
            #expect(own == ["b-admin@team-b"])
            let foreign = try await api.send(.post, "/v1/tokens", json: #"{"name":"x","role":"viewer","namespace":"team-a"}"#, headers: bearer(b))
            #expect(foreign.status == 422 && foreign.invalidFields == ["namespace"])
            let viewer = try await issue(api, #"{"name":"b-viewer","role":"viewer"}"#, as: b)
            let me = try await api.send(.get, "/v1/whoami", headers: bearer(viewer)).object
            #expect(me["namespace"] as? String == "team-b")
            let aID = String(a.dropFirst(4).prefix(16))
            #expect(try await api.send(.get, "/v1/tokens/\(aID)", headers: bearer(b)).status == 404)
            #expect(try await api.send(.delete, "/v1/tokens/\(aID)", headers: bearer(b)).status == 404)
            #expect(try await api.send(.get, "/metrics", headers: bearer(b)).status == 200, "metrics are open without --protect-metrics")

            // An event the journal has but the projection has not applied yet (another writer's,
            // or a read racing the command's catch-up) is judged once applied, not dropped.
            let definition = TaskDefinition(
                name: "direct", schedule: Schedule(.interval(every: .seconds(60), anchor: APIHarness.start)),
                action: WebhookAction(url: "http://127.0.0.1:9/"), namespace: "team-b"
            )
            let created = TaskEvent(taskID: "direct-b", at: api.clock.now(), actor: "other-node", kind: .created(definition, nextDueAt: nil))
            let appended = try await api.journal.append([ProposedEvent(created)], to: "direct-b", expectedVersion: .noStream)
            let fresh = try await api.send(.get, "/v1/events?after=\(appended.lastPosition - 1)", headers: bearer(b)).items
            #expect(fresh.map { $0["taskId"] as? String } == ["direct-b"])
        }
    }
}

/// Abuse limits: each refused with a clear error naming the field, nothing recorded.
@Suite struct AbuseLimitRouteTests {
    @Test func limitsAreConfigurableAndNamed() async throws {
        let limits = TaskLimits(maxTasksPerNamespace: 2, maxURLLength: 40, maxHeaders: 1, maxHeaderValueLength: 8, maxActionBody: 10)
        try await APIHarness.with(configuration: APIConfiguration(limits: limits)) { (api: APIHarness) async throws in
            let refusals: [(String, String)] = [
                (Bodies.every(url: "http://127.0.0.1:9/" + String(repeating: "a", count: 30)), "action.url"),
                (#"{"name":"h","schedule":{"every":"1m"},"action":{"url":"http://127.0.0.1:9/","headers":{"A":"1","B":"2"}}}"#, "action.headers"),
                (#"{"name":"h","schedule":{"every":"1m"},"action":{"url":"http://127.0.0.1:9/","headers":{"A":"123456789"}}}"#, "action.headers.A"),
                (#"{"name":"b","schedule":{"every":"1m"},"action":{"url":"http://127.0.0.1:9/","body":"12345678901"}}"#, "action.body"),
            ]
            for (body, field) in refusals {
                let reply = try await api.send(.post, "/v1/tasks", json: body)
                #expect(reply.status == 422 && reply.invalidFields == [field], "\(field): \(reply.status) \(reply.body)")
            }
            let head = try await api.head
            #expect(head == 0)
            let first = try await api.create(Bodies.every(name: "one"))
            _ = try await api.create(Bodies.every(name: "two"))
            let before = try await api.head
            let full = try await api.send(.post, "/v1/tasks", json: Bodies.every(name: "three"))
            #expect(full.status == 409)
            #expect(full.object["type"] as? String == "urn:almanac:problem:namespace-full")
            #expect(try await api.head == before)
            // Another namespace has its own count; deleting frees a place.
            #expect(try await api.send(.post, "/v1/tasks", json: Bodies.every(name: "elsewhere", extra: #","namespace":"other""#)).status == 201)
            #expect(try await api.send(.delete, "/v1/tasks/\(first)").status == 204)
            #expect(try await api.send(.post, "/v1/tasks", json: Bodies.every(name: "three")).status == 201)
        }
    }

    /// Concurrent creates cannot together pass the limit; once they are done, the namespace
    /// fills to exactly its limit.
    @Test func concurrentCreatesStayWithinTheNamespaceLimit() async throws {
        let limits = TaskLimits(maxTasksPerNamespace: 5)
        try await APIHarness.with(configuration: APIConfiguration(limits: limits)) { (api: APIHarness) async throws in
            let statuses = try await withThrowingTaskGroup(of: Int.self) { group in
                for index in 0..<40 {
                    group.addTask { try await api.send(.post, "/v1/tasks", json: Bodies.every(name: "burst-\(index)")).status }
                }
                return try await group.reduce(into: [Int]()) { $0.append($1) }
            }
            #expect(Set(statuses).isSubset(of: [201, 409]), "\(statuses)")
            let created = statuses.filter { $0 == 201 }.count
            #expect((1...5).contains(created), "\(created) created at once")
            var more = 0
            while try await api.send(.post, "/v1/tasks", json: Bodies.every(name: "after-\(more)")).status == 201 { more += 1 }
            #expect(created + more == 5)
            #expect(await api.store.read { $0.liveTasksByNamespace["default"] } == 5)
        }
    }
}
