import AlmanacTesting
import Engine
import Foundation
import Journal
import Projections
import Scheduling
import Synchronization
import Testing

/// The HTTP executor against a real receiver on 127.0.0.1.
@Suite("HTTP executor, live", .timeLimit(.minutes(2)))
struct HTTPExecutorTests {
    static let scheduled = Instant(secondsSinceEpoch: 1_795_428_060)

    func request(
        _ url: String,
        body: String? = nil,
        headers: [WebhookAction.Header] = [],
        timeout: Duration = .seconds(5),
        attempt: Int = 1,
        method: String = "POST"
    ) -> RunRequest {
        let occurrence = OccurrenceID.scheduled("report", at: Self.scheduled)
        return RunRequest(
            taskID: "report",
            start: RunStart(
                run: RunID(occurrence, attempt: attempt), occurrence: occurrence, scheduledAt: Self.scheduled,
                dueAt: Self.scheduled, attempt: attempt, occurrenceKind: .scheduled, nextDueAt: nil
            ),
            action: WebhookAction(url: url, method: method, headers: headers, body: body, timeout: timeout),
            firedAt: Instant(secondsSinceEpoch: 1_795_428_061)
        )
    }

    func withReceiver(
        keepAlive: Bool = false,
        reply: @escaping @Sendable (String) -> WebhookReceiver.Reply = { _ in .init() },
        _ body: (WebhookReceiver, HTTPExecutor) async throws -> Void
    ) async throws {
        let receiver = try await WebhookReceiver.start(keepAlive: keepAlive, reply: reply)
        let executor = HTTPExecutor(clock: SystemClock())
        do {
            try await body(receiver, executor)
        } catch {
            try await executor.shutdown()
            try await receiver.stop()
            throw error
        }
        try await executor.shutdown()
        try await receiver.stop()
    }

    /// A refused connection fails the attempt at once with its reason (the task's retry policy
    /// takes over), instead of the client retrying quietly until the connect timeout.
    @Test func aRefusedConnectionFailsAtOnceWithItsReason() async throws {
        // A port that was just listening and is closed now refuses connections.
        let receiver = try await WebhookReceiver.start()
        let url = receiver.url("/gone")
        try await receiver.stop()
        let clock = SystemClock()
        let executor = HTTPExecutor(clock: clock, configuration: .init(connectTimeout: .seconds(60)))
        let started = clock.now()
        let result = await executor.execute(request(url, timeout: .seconds(90)))
        let elapsed = clock.now() - started
        try await executor.shutdown()
        guard case .failed(let outcome) = result else {
            Issue.record("a refused connection succeeded: \(result)")
            return
        }
        #expect(outcome.statusCode == nil)
        #expect(outcome.error?.lowercased().contains("refused") == true, "\(outcome.error ?? "-")")
        // Far below the 60 s connect timeout it would otherwise wait out.
        #expect(elapsed < .seconds(30), "took \(elapsed)")
    }

    @Test func sendsTheIdempotencyKeyAlmanacHeadersTaskHeadersAndFilledBody() async throws {
        try await withReceiver { receiver, executor in
            let body = "task={{taskId}} run={{runId}} occ={{occurrenceId}} at={{scheduledAt}} fired={{firedAt}} n={{attempt}}"
            let result = await executor.execute(request(
                receiver.url("/hooks/report?x=1"), body: body,
                headers: [.init(name: "X-Team", value: "billing"), .init(name: "Idempotency-Key", value: "spoofed")],
                attempt: 2, method: "put"
            ))
            guard case .succeeded(let outcome) = result else {
                Issue.record("expected success, got \(result)")
                return
            }
            #expect(outcome.statusCode == 200)
            #expect(outcome.responseExcerpt == "ok")
            let got = try #require(receiver.received.first)
            #expect(got.method == "PUT")
            #expect(got.uri == "/hooks/report?x=1")
            #expect(got.header("Idempotency-Key") == "report@1795428060000000")
            #expect(got.headers.filter { $0.name.lowercased() == "idempotency-key" }.count == 1, "ours replaces the task's")
            #expect(got.header("Almanac-Task-Id") == "report")
            #expect(got.header("Almanac-Run-Id") == "report@1795428060000000#2")
            #expect(got.header("Almanac-Scheduled-At") == "2026-11-23T10:01:00.000000Z")
            #expect(got.header("Almanac-Attempt") == "2")
            #expect(got.header("X-Team") == "billing")
            #expect(got.body == "task=report run=report@1795428060000000#2 occ=report@1795428060000000 at=2026-11-23T10:01:00.000000Z fired=2026-11-23T10:01:01.000000Z n=2")
        }
    }

    @Test func callsOverKeptAliveConnectionsEachCarryTheirOwnHeadersAndBody() async throws {
        try await withReceiver(keepAlive: true) { receiver, executor in
            let results = await withTaskGroup(of: RunResult.self) { group in
                for attempt in 1...40 {
                    group.addTask {
                        await executor.execute(request(receiver.url("/keep"), body: "n={{attempt}}", attempt: attempt))
                    }
                }
                var results: [RunResult] = []
                for await result in group { results.append(result) }
                return results
            }
            #expect(results.allSatisfy { if case .succeeded = $0 { true } else { false } })
            let got = receiver.received
            #expect(got.count == 40)
            #expect(Set(got.compactMap { $0.header("Almanac-Attempt") }) == Set((1...40).map(String.init)))
            #expect(got.allSatisfy { $0.body == "n=\($0.header("Almanac-Attempt") ?? "?")" })
        }
    }

    @Test func aNon2xxStatusIsAFailureWithItsExcerpt() async throws {
        try await withReceiver(reply: { _ in .init(status: 500, body: "database is down") }) { receiver, executor in
            let result = await executor.execute(request(receiver.url()))
            guard case .failed(let outcome) = result else {
                Issue.record("expected failure, got \(result)")
                return
            }
            #expect(outcome.statusCode == 500)
            #expect(outcome.responseExcerpt == "database is down")
            #expect(outcome.error?.contains("HTTP 500") == true)
        }
    }

    @Test func aSlowReceiverTimesOut() async throws {
        try await withReceiver(reply: { _ in .init(delay: .seconds(3)) }) { receiver, executor in
            let began = Date()
            let result = await executor.execute(request(receiver.url(), timeout: .milliseconds(300)))
            guard case .failed(let outcome) = result else {
                Issue.record("expected failure, got \(result)")
                return
            }
            #expect(outcome.error?.contains("timed out") == true, "\(outcome.error ?? "")")
            #expect(outcome.statusCode == nil)
            #expect(Date().timeIntervalSince(began) < 2.5)
        }
    }

    @Test func aRefusedConnectionIsAFailure() async throws {
        let closed = try await WebhookReceiver.start()
        let url = closed.url()
        try await closed.stop()
        let executor = HTTPExecutor(clock: SystemClock())
        let result = await executor.execute(request(url, timeout: .seconds(2)))
        try await executor.shutdown()
        guard case .failed(let outcome) = result else {
            Issue.record("expected failure, got \(result)")
            return
        }
        #expect(outcome.statusCode == nil)
        #expect(outcome.error?.isEmpty == false)
    }

    @Test func aRedirectIsAFailureAndIsNotFollowed() async throws {
        try await withReceiver(reply: { path in
            path == "/moved" ? .init(status: 302, headers: [("Location", "/elsewhere")]) : .init()
        }) { receiver, executor in
            let result = await executor.execute(request(receiver.url("/moved")))
            guard case .failed(let outcome) = result else {
                Issue.record("expected failure, got \(result)")
                return
            }
            #expect(outcome.statusCode == 302)
            #expect(receiver.received.map(\.uri) == ["/moved"])
        }
    }

    @Test func onlyTheFirstBytesOfALargeResponseAreKept() async throws {
        try await withReceiver(reply: { _ in .init(body: String(repeating: "x", count: 100_000)) }) { receiver, executor in
            let result = await executor.execute(request(receiver.url()))
            guard case .succeeded(let outcome) = result else {
                Issue.record("expected success, got \(result)")
                return
            }
            #expect(outcome.responseExcerpt?.utf8.count == 4096)
        }
    }

    @Test func theEngineDeliversRetriesUnderOneIdempotencyKey() async throws {
        let calls = CallCounter()
        try await withReceiver(reply: { _ in calls.next() == 1 ? .init(status: 503, body: "busy") : .init() }) { receiver, executor in
            try await EngineFixture.with(executor: executor) { engine in
                var definition = everyMinute("report", retry: RetryPolicy(maxAttempts: 3, initialBackoff: .seconds(1)))
                definition.action = WebhookAction(url: receiver.url("/report"), body: "{\"run\":\"{{runId}}\"}", timeout: .seconds(5))
                try await engine.run("report", .createTask(definition))
                try await engine.tick(at: at(60))
                let retry = try #require(await engine.store.state(of: "report")?.pending.values.first)
                try await engine.tick(at: retry.dueAt)
                #expect(receiver.received.count == 2)
                #expect(Set(receiver.received.compactMap { $0.header("Idempotency-Key") }) == ["report@\(at(60).microsecondsSinceEpoch)"])
                #expect(receiver.received.compactMap { $0.header("Almanac-Attempt") } == ["1", "2"])
                #expect(receiver.received.map(\.body) == [
                    "{\"run\":\"report@\(at(60).microsecondsSinceEpoch)#1\"}",
                    "{\"run\":\"report@\(at(60).microsecondsSinceEpoch)#2\"}",
                ])
                let runs = try await engine.runs(of: "report")
                #expect(runs.map(\.outcome) == [.retrying, .succeeded])
                #expect(runs.first?.statusCode == 503)
                #expect(runs.first?.responseExcerpt == "busy")
            }
        }
    }
}

/// Counts calls across the receiver's event loop threads.
final class CallCounter: Sendable {
    private let count = Mutex(0)
    func next() -> Int { count.withLock { $0 += 1; return $0 } }
}
