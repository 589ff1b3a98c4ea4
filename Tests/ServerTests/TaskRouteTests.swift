import AlmanacTesting
import Engine
import Foundation
import HTTPTypes
import Journal
import Scheduling
import Server
import Testing

/// Task commands and reads through the router, against a real projection store.
@Suite("API: tasks")
struct TaskRouteTests {
    @Test func createsTasksOfEachScheduleKindAndReadsThemBack() async throws {
        try await APIHarness.with { (api: APIHarness) async throws in
            let reply = try await api.send(.post, "/v1/tasks", json: Bodies.cron)
            #expect(reply.status == 201)
            let task = reply.object
            let id = try #require(task["id"] as? String)
            #expect(reply.header("Location") == "/v1/tasks/\(id)")
            #expect(reply.header("ETag") == "\"1\"")
            #expect(task["name"] as? String == "nightly-report")
            #expect(task["labels"] as? [String: String] == ["team": "billing"])
            #expect(task["schedule"] as? [String: String] == ["cron": "0 30 2 * * *", "timeZone": "Europe/Lisbon"])
            let action = try #require(task["action"] as? [String: Any])
            #expect(action["method"] as? String == "PUT")
            #expect(action["timeout"] as? String == "10s")
            #expect(action["headers"] as? [String: String] == ["X-Token": "abc"])
            #expect((task["retry"] as? [String: Any])?["maxBackoff"] as? String == "5m")
            #expect(task["overlap"] as? String == "forbid")
            #expect(task["misfire"] as? String == "runAll")
            #expect(task["misfireLimit"] as? Int == 5)
            #expect(task["status"] as? String == "active")
            #expect(task["version"] as? Int == 1)
            // 02:30 in Lisbon on 1 March 2026 (UTC+0).
            #expect(task["nextRunAt"] as? String == "2026-03-01T02:30:00Z")
            #expect(task["createdAt"] as? String == "2026-03-01T00:00:00Z")
            #expect((task["counts"] as? [String: Int]) == ["runs": 0, "succeeded": 0, "failed": 0, "skipped": 0])

            let read = try await api.send(.get, "/v1/tasks/\(id)")
            #expect(read.status == 200)
            #expect(read.header("ETag") == "\"1\"")
            #expect(read.body == reply.body)

            let utc = try await api.send(.post, "/v1/tasks", json: #"{"name":"u","schedule":{"cron":"0 0 * * *"},"action":{"url":"http://[::1]:8080/x?a=%20b"}}"#)
            #expect(utc.status == 201)
            #expect(utc.object["schedule"] as? [String: String] == ["cron": "0 0 * * *", "timeZone": "UTC"])

            let interval = try await api.send(.post, "/v1/tasks", json: Bodies.every("90s"))
            #expect(interval.status == 201)
            #expect(interval.object["schedule"] as? [String: String] == ["every": "1m30s"])
            #expect(interval.object["nextRunAt"] as? String == "2026-03-01T00:01:30Z")

            let once = try await api.send(.post, "/v1/tasks", json: Bodies.once)
            #expect(once.status == 201)
            #expect(once.object["nextRunAt"] as? String == "2026-03-01T00:00:05Z")
            #expect(try await api.head == 4)
        }
    }

    /// Every bad request is refused with problem+json naming the field, and nothing is appended.
    @Test(arguments: [
        ("{\"name\": ", 400, [String]()),
        ("[1, 2]", 422, ["body"]),
        (#"{"name":"x","schedule":{"every":"1s"},"action":{"url":"http://a/"},"colour":"red"}"#, 422, ["colour"]),
        (#"{"name":42,"schedule":{"every":"1s"},"action":{"url":"http://a/"}}"#, 422, ["name"]),
        (#"{"name":"x","schedule":{"cron":"61 * * * *"},"action":{"url":"http://a/"}}"#, 422, ["schedule.cron"]),
        (#"{"name":"x","schedule":{"cron":"0 0 30 2 *"},"action":{"url":"http://a/"}}"#, 422, ["schedule.cron"]),
        (#"{"name":"x","schedule":{"cron":"* * * * *","timeZone":"Mars/Olympus"},"action":{"url":"http://a/"}}"#, 422, ["schedule.timeZone"]),
        (#"{"name":"x","schedule":{"every":"1s"},"action":{"url":"not a url"}}"#, 422, ["action.url"]),
        (#"{"name":"x","schedule":{"every":"soon"},"action":{"url":"http://a/"}}"#, 422, ["schedule.every"]),
        (#"{"name":"x","schedule":{"at":"2026-02-28T00:00:00Z"},"action":{"url":"http://a/"}}"#, 422, ["schedule.at"]),
        (#"{"name":"x","schedule":{"at":"tomorrow"},"action":{"url":"http://a/"}}"#, 422, ["schedule.at"]),
        (#"{"name":"x","schedule":{"every":"1s","at":"2027-01-01T00:00:00Z"},"action":{"url":"http://a/"}}"#, 422, ["schedule"]),
        (#"{"name":"x","schedule":{},"action":{"url":"http://a/"}}"#, 422, ["schedule"]),
        (#"{"name":"x","action":{"url":"http://a/"}}"#, 422, ["schedule"]),
        (#"{"name":"x","schedule":{"every":"1s"},"action":{"url":"http://a/","timeout":"2h"}}"#, 422, ["action.timeout"]),
        (#"{"name":"x","schedule":{"every":"1s"},"action":{"url":"http://a/","method":"BREW"}}"#, 422, ["action.method"]),
        (#"{"name":"x","schedule":{"every":"1s"},"action":{"url":"http://a/"},"retry":{"maxAttempts":0}}"#, 422, ["retry.maxAttempts"]),
        (#"{"name":"x","schedule":{"every":"1s"},"action":{"url":"http://a/"},"overlap":"sometimes"}"#, 422, ["overlap"]),
        (#"{"name":"x","schedule":{"every":"1s","endAt":"2026-01-01T00:00:00Z"},"action":{"url":"http://a/"}}"#, 422, ["schedule"]),
        (#"{"name":"x","schedule":{"every":"1s"},"action":{"url":"http://h/a b"}}"#, 422, ["action.url"]),
        (#"{"name":"x","schedule":{"every":"1s"},"action":{"url":"http://h/%zz"}}"#, 422, ["action.url"]),
        (#"{"name":"x","schedule":{"every":"1s"},"action":{"url":"http://-/"}}"#, 422, ["action.url"]),
        (#"{"name":"x","schedule":{"every":"1s"},"action":{"url":"http://h:99999/"}}"#, 422, ["action.url"]),
        (#"{"name":"x","name":"y","schedule":{"every":"1s"},"action":{"url":"http://h/"}}"#, 400, []),
        ("{\"name\":\"\(String(repeating: "n", count: 201))\",\"schedule\":{\"every\":\"1s\"},\"action\":{\"url\":\"http://a/\"}}", 422, ["name"]),
    ])
    func badRequestsAreRefusedAndNothingIsAppended(body: String, status: Int, fields: [String]) async throws {
        try await APIHarness.with { (api: APIHarness) async throws in
            let reply = try await api.send(.post, "/v1/tasks", json: body)
            #expect(reply.status == status, "\(body) → \(reply.body)")
            #expect(reply.header("Content-Type") == "application/problem+json")
            #expect(reply.object["status"] as? Int == status)
            #expect((reply.object["type"] as? String)?.hasPrefix("urn:almanac:problem:") == true)
            #expect(reply.object["title"] is String && reply.object["detail"] is String)
            #expect(reply.invalidFields == fields, "\(reply.body)")
            #expect(try await api.head == 0)
        }
    }

    @Test func stringsAreDecodedExactlyAndMalformedJSONIsNamed() async throws {
        try await APIHarness.with { (api: APIHarness) async throws in
            let body = #"{"name":"caf\u00e9 \ud83d\ude00 \"q\"\n\t/\/","schedule":{"every":"1e1s"},"action":{"url":"http://h/"}}"#
            let created = try await api.send(.post, "/v1/tasks", json: body)
            #expect(created.status == 422)  // "1e1s" is not a duration
            let fixed = body.replacingOccurrences(of: "1e1s", with: "10s")
            let reply = try await api.send(.post, "/v1/tasks", json: fixed)
            #expect(reply.status == 201)
            #expect(reply.object["name"] as? String == "café 😀 \"q\"\n\t//")
            for malformed in [
                #"{"name":"\ud83d"}"#, "{\"a\":1,}", "{\"a\":01}", "{\"a\":\"\u{01}\"}",
                String(repeating: "[", count: 100) + String(repeating: "]", count: 100), "{} {}", "tru",
            ] {
                let refused = try await api.send(.post, "/v1/tasks", json: malformed)
                #expect(refused.status == 400, "\(malformed) → \(refused.body)")
                #expect((refused.object["detail"] as? String)?.contains("at byte") == true)
            }
            #expect(try await api.head == 1)
        }
    }

    @Test func oversizedAndNonJSONBodiesAreRefused() async throws {
        try await APIHarness.with(configuration: APIConfiguration(maxBodyBytes: 1024)) { (api: APIHarness) async throws in
            let large = Bodies.every(extra: #","description":"\#(String(repeating: "d", count: 2000))""#)
            #expect(try await api.send(.post, "/v1/tasks", json: large).status == 413)
            let form = try await api.send(.post, "/v1/tasks", json: "a=b", headers: [.contentType: "application/x-www-form-urlencoded"])
            #expect(form.status == 415)
            #expect(try await api.send(.post, "/v1/tasks").status == 400)
            #expect(try await api.head == 0)
        }
    }

    /// New task ids are `t`, ten characters of the creation millisecond and sixteen random
    /// ones: all different, across the random pool's refills (256 ids each), sorted by time.
    @Test func newTaskIdsAreDistinctAndOrderedByCreation() async throws {
        try await APIHarness.with { (api: APIHarness) async throws in
            let alphabet = Set("0123456789abcdefghjkmnpqrstvwxyz")
            var ids: [String] = []
            for number in 0..<600 {
                if number % 200 == 0 { api.clock.advance(by: .seconds(1)) }
                ids.append(try await api.create(Bodies.every(name: "t\(number)")))
            }
            #expect(Set(ids).count == 600)
            for id in ids {
                #expect(id.count == 27 && id.first == "t" && id.dropFirst().allSatisfy(alphabet.contains), "\(id)")
            }
            // The random part differs even within one millisecond; the time part orders them.
            #expect(Set(ids.map { $0.dropFirst(11) }).count == 600)
            #expect(ids[0] < ids[200] && ids[200] < ids[400])
        }
    }

    /// Raw UTF-8 in a string is kept as sent; bytes that are not UTF-8 are a 400 naming the
    /// byte, with nothing appended.
    @Test func rawUTF8InStringsIsReadAndInvalidBytesAreRefused() async throws {
        try await APIHarness.with { (api: APIHarness) async throws in
            func post(_ bytes: [UInt8]) async throws -> (Int, String) {
                let reply = try await api.send(.post, "/v1/tasks", bytes: bytes, headers: [.contentType: "application/json"])
                return (reply.status, reply.body)
            }
            let name = "café ☕ 😀"
            let valid = Array(#"{"name":""#.utf8) + Array(name.utf8) + Array(#"","schedule":{"every":"1m"},"action":{"url":"http://h/"}}"#.utf8)
            let (status, body) = try await post(valid)
            #expect(status == 201, "\(body)")
            #expect(body.contains(#""name":"café ☕ 😀""#))
            for bad: [UInt8] in [[0xC3, 0x28], [0xFF], [0xE2, 0x82], [0xED, 0xA0, 0x80], [0xC0, 0xAF]] {
                let bytes = Array(#"{"name":"a"#.utf8) + bad + Array(#"b","schedule":{"every":"1m"},"action":{"url":"http://h/"}}"#.utf8)
                let (status, body) = try await post(bytes)
                #expect(status == 400 && body.contains("invalid UTF-8"), "\(bad): \(body)")
            }
            #expect(try await api.head == 1)
        }
    }

    /// JSON in any case, with parameters and blanks around the type, and `+json` types are
    /// read; anything else is 415 with nothing appended.
    @Test func theContentTypeMustNameJSON() async throws {
        try await APIHarness.with { (api: APIHarness) async throws in
            let accepted = [
                "application/json", "Application/JSON", "application/json; charset=utf-8", " \tapplication/json\t ;x=y",
                "application/merge-patch+json", "APPLICATION/VND.ALMANAC+JSON",
            ]
            for (number, type) in accepted.enumerated() {
                let reply = try await api.send(.post, "/v1/tasks", json: Bodies.every(name: "t\(number)"), headers: [.contentType: type])
                #expect(reply.status == 201, "\(type): \(reply.body)")
            }
            let head = try await api.head
            for type in ["text/plain", "application/jsonx", "application/json5", "json", "application/x-json-stream", "", "; application/json"] {
                let reply = try await api.send(.post, "/v1/tasks", json: Bodies.every(name: "refused"), headers: [.contentType: type])
                #expect(reply.status == 415, "\(type)")
                #expect(reply.object["type"] as? String == "urn:almanac:problem:unsupported-media-type", "\(type)")
            }
            #expect(try await api.head == head)
        }
    }

    @Test func anIdempotencyKeyMakesARetriedCreateReturnTheFirstResult() async throws {
        try await APIHarness.with { (api: APIHarness) async throws in
            let key: HTTPFields = [HTTPField.Name("Idempotency-Key")!: "create-42"]
            let first = try await api.send(.post, "/v1/tasks", json: Bodies.every(), headers: key)
            api.clock.advance(by: .seconds(3))
            let second = try await api.send(.post, "/v1/tasks", json: Bodies.every(), headers: key)
            #expect(first.status == 201 && second.status == 201)
            #expect(first.object["id"] as? String == second.object["id"] as? String)
            #expect(second.header("Idempotent-Replayed") == "true")
            #expect(first.header("Idempotent-Replayed") == nil)
            let different = try await api.send(.post, "/v1/tasks", json: Bodies.every("20s"), headers: key)
            #expect(different.status == 422)
            #expect(try await api.head == 1)
            let list = try await api.send(.get, "/v1/tasks")
            #expect(list.items.count == 1)
        }
    }

    @Test func racingCreatesWithOneKeyGetOneTaskAndA422ForTheOtherBody() async throws {
        try await APIHarness.with { (api: APIHarness) async throws in
            let key: HTTPFields = [HTTPField.Name("Idempotency-Key")!: "race-1"]
            let statuses = try await withThrowingTaskGroup(of: (Bool, Int).self) { group in
                for index in 0..<40 {
                    group.addTask {
                        let first = index % 2 == 0
                        let body = first ? Bodies.every() : Bodies.every("20s")
                        return (first, try await api.send(.post, "/v1/tasks", json: body, headers: key).status)
                    }
                }
                var statuses: [(Bool, Int)] = []
                for try await status in group { statuses.append(status) }
                return statuses
            }
            // One body won; every request with it got 201, every one with the other 422.
            let winners = Set(statuses.filter { $0.1 == 201 }.map(\.0))
            #expect(winners.count == 1)
            #expect(statuses.allSatisfy { $0.1 == ($0.0 == winners.first ? 201 : 422) }, "\(statuses)")
            #expect(try await api.head == 1)
        }
    }

    @Test func replaceHonoursIfMatchAndUnknownTasksAre404() async throws {
        try await APIHarness.with { (api: APIHarness) async throws in
            let id = try await api.create(Bodies.every())
            let stale: HTTPFields = [.ifMatch: "\"7\""]
            let refused = try await api.send(.put, "/v1/tasks/\(id)", json: Bodies.every("20s"), headers: stale)
            #expect(refused.status == 412)
            #expect(try await api.head == 1)
            let replaced = try await api.send(.put, "/v1/tasks/\(id)", json: Bodies.every("20s"), headers: [.ifMatch: "\"1\""])
            #expect(replaced.status == 200)
            #expect(replaced.header("ETag") == "\"2\"")
            #expect(replaced.object["schedule"] as? [String: String] == ["every": "20s"])
            let invalid = try await api.send(.put, "/v1/tasks/\(id)", json: Bodies.every("0s"))
            #expect(invalid.status == 422)
            #expect(try await api.head == 2)
            #expect(try await api.send(.get, "/v1/tasks/nope").status == 404)
            #expect(try await api.send(.put, "/v1/tasks/nope", json: Bodies.every()).status == 404)
            #expect(try await api.send(.post, "/v1/tasks/nope/pause").status == 404)
            #expect(try await api.send(.get, "/v1/tasks/not%20an%20id").status == 404)
        }
    }

    @Test func pauseResumeDeleteAndTriggerRecordActorAndReason() async throws {
        try await APIHarness.with { (api: APIHarness) async throws in
            let id = try await api.create(Bodies.every())
            let reason: HTTPFields = [HTTPField.Name("Almanac-Reason")!: "maintenance window", HTTPField.Name("Almanac-Actor")!: "ops"]
            let paused = try await api.send(.post, "/v1/tasks/\(id)/pause", headers: reason)
            #expect(paused.status == 200)
            #expect(paused.object["status"] as? String == "paused")
            #expect(paused.object["nextRunAt"] is NSNull)
            #expect(try await api.send(.post, "/v1/tasks/\(id)/pause").status == 200)  // already paused: no event
            let resumed = try await api.send(.post, "/v1/tasks/\(id)/resume")
            #expect(resumed.object["status"] as? String == "active")
            #expect(try await api.send(.post, "/v1/tasks/\(id)/resume").status == 409)

            let trigger: HTTPFields = [HTTPField.Name("Idempotency-Key")!: "manual-1"]
            let triggered = try await api.send(.post, "/v1/tasks/\(id)/trigger", headers: trigger)
            #expect(triggered.status == 202)
            #expect(triggered.object["occurrenceId"] as? String == "\(id)!manual-1")
            #expect(try await api.send(.post, "/v1/tasks/\(id)/trigger", headers: trigger).status == 202)

            #expect(try await api.send(.delete, "/v1/tasks/\(id)").status == 204)
            #expect(try await api.send(.delete, "/v1/tasks/\(id)").status == 204)
            let deleted = try await api.send(.get, "/v1/tasks/\(id)")
            #expect(deleted.object["status"] as? String == "deleted")
            #expect(try await api.send(.post, "/v1/tasks/\(id)/pause").status == 409)

            let events = try await api.send(.get, "/v1/tasks/\(id)/events").items
            #expect(events.map { $0["type"] as? String } == ["TaskCreated", "TaskPaused", "TaskResumed", "RunTriggered", "TaskDeleted"])
            #expect(events[1]["actor"] as? String == "ops")
            #expect(events[1]["reason"] as? String == "maintenance window")
            #expect(events[2]["actor"] as? String == "api")
            #expect(events[2]["reason"] is NSNull)
            #expect(events.map { $0["version"] as? Int } == [1, 2, 3, 4, 5])
        }
    }

    @Test func listsFilterAndPageWithACursor() async throws {
        try await APIHarness.with { (api: APIHarness) async throws in
            var ids: [String] = []
            for index in 0..<5 {
                let labels = index % 2 == 0 ? #","labels":{"team":"billing"}"# : #","labels":{"team":"search"}"#
                ids.append(try await api.create(Bodies.every(name: "job-\(index)", extra: labels)))
                api.clock.advance(by: .milliseconds(2))
            }
            _ = try await api.create(Bodies.every(name: "other"))
            let paused = ids[4]
            #expect(try await api.send(.post, "/v1/tasks/\(paused)/pause").status == 200)
            #expect(try await api.send(.delete, "/v1/tasks/\(ids[3])").status == 204)

            var seen: [String] = []
            var cursor: String?
            var pages = 0
            repeat {
                let uri = "/v1/tasks?namePrefix=job-&limit=2" + (cursor.map { "&cursor=\($0)" } ?? "")
                let page = try await api.send(.get, uri)
                #expect(page.status == 200)
                seen += page.items.compactMap { $0["id"] as? String }
                cursor = page.object["nextCursor"] as? String
                pages += 1
            } while cursor != nil && pages < 10
            #expect(seen == [ids[0], ids[1], ids[2], ids[4]])  // creation order; the deleted one is left out
            #expect(pages == 2)

            let billing = try await api.send(.get, "/v1/tasks?label=team=billing").items.compactMap { $0["id"] as? String }
            #expect(billing == [ids[0], ids[2], ids[4]])
            let pausedOnly = try await api.send(.get, "/v1/tasks?status=paused").items.compactMap { $0["id"] as? String }
            #expect(pausedOnly == [paused])
            let deleted = try await api.send(.get, "/v1/tasks?status=deleted").items.compactMap { $0["id"] as? String }
            #expect(deleted == [ids[3]])
            #expect(try await api.send(.get, "/v1/tasks?status=sleeping").status == 422)
            #expect(try await api.send(.get, "/v1/tasks?status=").status == 422)
            #expect(try await api.send(.get, "/v1/tasks?label==x").status == 422)
            #expect(try await api.send(.get, "/v1/tasks?limit=5000").status == 422)
            #expect(try await api.send(.get, "/v1/tasks?cursor=%%%").status == 422)
        }
    }

    @Test func asOfShowsTheTaskAsItWasAtAPositionOrInstant() async throws {
        try await APIHarness.with { (api: APIHarness) async throws in
            let id = try await api.create(Bodies.every())
            api.clock.advance(by: .seconds(60))
            #expect(try await api.send(.post, "/v1/tasks/\(id)/pause").status == 200)
            api.clock.advance(by: .seconds(60))
            #expect(try await api.send(.put, "/v1/tasks/\(id)", json: Bodies.every("30s", name: "renamed")).status == 200)

            let atOne = try await api.send(.get, "/v1/tasks/\(id)?asOf=1").object
            #expect(atOne["status"] as? String == "active")
            #expect(atOne["version"] as? Int == 1)
            let atTwo = try await api.send(.get, "/v1/tasks/\(id)?asOf=2").object
            #expect(atTwo["status"] as? String == "paused")
            let byInstant = try await api.send(.get, "/v1/tasks/\(id)?asOf=2026-03-01T00:01:30Z").object
            #expect(byInstant["version"] as? Int == 2)
            #expect(byInstant["name"] as? String == "interval")
            let now = try await api.send(.get, "/v1/tasks/\(id)").object
            #expect(now["name"] as? String == "renamed")
            #expect(try await api.send(.get, "/v1/tasks/\(id)?asOf=2020-01-01T00:00:00Z").status == 404)
            #expect(try await api.send(.get, "/v1/tasks/\(id)?asOf=yesterday").status == 422)
        }
    }

    @Test func aFullJournalAnswers507AndKeepsServing() async throws {
        try await TemporaryDirectory.with(prefix: "almanac-api-full") { directory in
            let journal = try LMDBJournal(directory: directory, configuration: .init(mapSize: 256 * 1024))
            defer { journal.close() }
            try await APIHarness.with(journal: journal) { (api: APIHarness) async throws in
                var statuses: [Int] = []
                let description = String(repeating: "x", count: 4000)
                for index in 0..<200 {
                    let reply = try await api.send(.post, "/v1/tasks", json: Bodies.every(name: "t\(index)", extra: #","description":"\#(description)""#))
                    statuses.append(reply.status)
                    if reply.status == 507 {
                        #expect(reply.header("Content-Type") == "application/problem+json")
                        break
                    }
                }
                #expect(statuses.last == 507, "statuses: \(Set(statuses))")
                #expect(statuses.dropLast().allSatisfy { $0 == 201 })
                // Reads still work.
                let list = try await api.send(.get, "/v1/tasks?limit=1000")
                #expect(list.status == 200)
                #expect(list.items.count == statuses.count - 1)
            }
        }
    }
}
