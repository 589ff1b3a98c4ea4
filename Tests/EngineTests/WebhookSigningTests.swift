import AlmanacTesting
import Engine
import Foundation
import Scheduling
import Testing

/// Standard Webhooks signatures: the specification's test vector, and signed calls received by
/// a real receiver on 127.0.0.1.
@Suite("Webhook signing", .timeLimit(.minutes(2)))
struct WebhookSigningTests {
    @Test func theSpecificationsTestVectorIsReproduced() throws {
        let signer = try WebhookSigner(secret: "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw")
        let body = Array(#"{"test": 2432232314}"#.utf8)
        let signature = signer.signature(id: "msg_p5jXN8AQM9LWM0D4loKWxJek", timestamp: 1_614_265_330, body: body)
        #expect(signature == "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=")
        // A receiver accepts it among other signatures, and refuses any change.
        #expect(signer.verify(id: "msg_p5jXN8AQM9LWM0D4loKWxJek", timestamp: 1_614_265_330, body: body, header: "v1,bm9wZQ== " + signature))
        #expect(!signer.verify(id: "msg_p5jXN8AQM9LWM0D4loKWxJek", timestamp: 1_614_265_331, body: body, header: signature))
        #expect(!signer.verify(id: "msg_p5jXN8AQM9LWM0D4loKWxJel", timestamp: 1_614_265_330, body: body, header: signature))
        #expect(!signer.verify(id: "msg_p5jXN8AQM9LWM0D4loKWxJek", timestamp: 1_614_265_330, body: body + [0x20], header: signature))
    }

    @Test func secretsMustBeWhsecBase64OfEnoughBytes() throws {
        for bad in ["", "whsec_", "whsec_not base64!", "whsec_" + Data(repeating: 1, count: 8).base64EncodedString()] {
            #expect(throws: SigningSecretError.self) { try WebhookSigner(secret: bad) }
        }
        var random = SeededRandom(seed: 7)
        let secret = WebhookSigner.generateSecret(using: &random)
        #expect(secret.hasPrefix("whsec_"))
        #expect(Data(base64Encoded: String(secret.dropFirst(6)))?.count == 32)
        #expect(WebhookSigner.generateSecret(using: &random) != secret)
        _ = try WebhookSigner(secret: secret)
    }

    @Test func everyAttemptIsSignedWithTheOccurrenceAsMessageIDAndItsOwnTimestamp() async throws {
        let secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
        let signer = try WebhookSigner(secret: secret)
        let clock = ManualClock(now: Instant(secondsSinceEpoch: 1_795_428_061))
        let receiver = try await WebhookReceiver.start()
        let executor = HTTPExecutor(clock: clock, configuration: .init(signer: signer))
        let scheduled = Instant(secondsSinceEpoch: 1_795_428_060)
        let occurrence = OccurrenceID.scheduled("report", at: scheduled)
        for attempt in 1...2 {
            let request = RunRequest(
                taskID: "report",
                start: RunStart(
                    run: RunID(occurrence, attempt: attempt), occurrence: occurrence, scheduledAt: scheduled,
                    dueAt: scheduled, attempt: attempt, occurrenceKind: .scheduled, nextDueAt: nil
                ),
                action: WebhookAction(url: receiver.url("/signed"), method: "POST", body: #"{"run":"{{runId}}"}"#),
                firedAt: clock.now()
            )
            _ = await executor.execute(request)
            clock.advance(by: .seconds(30))
        }
        // A call without a body is signed over the empty body.
        let bare = RunRequest(
            taskID: "report",
            start: RunStart(
                run: RunID(occurrence, attempt: 3), occurrence: occurrence, scheduledAt: scheduled,
                dueAt: scheduled, attempt: 3, occurrenceKind: .scheduled, nextDueAt: nil
            ),
            action: WebhookAction(url: receiver.url("/bare"), method: "GET"),
            firedAt: clock.now()
        )
        _ = await executor.execute(bare)
        try await executor.shutdown()
        try await receiver.stop()

        let calls = receiver.received
        try #require(calls.count == 3)
        #expect(calls.map { $0.header("webhook-id") } == Array(repeating: occurrence.rawValue, count: 3))
        #expect(calls.map { $0.header("webhook-timestamp") } == ["1795428061", "1795428091", "1795428121"])
        for call in calls {
            let id = try #require(call.header("webhook-id"))
            let timestamp = try #require(call.header("webhook-timestamp").flatMap { Int64($0) })
            let header = try #require(call.header("webhook-signature"))
            #expect(header.hasPrefix("v1,"))
            #expect(signer.verify(id: id, timestamp: timestamp, body: Array(call.body.utf8), header: header), "\(call.uri)")
            // Another secret does not verify it.
            let other = try WebhookSigner(secret: "whsec_" + Data(repeating: 9, count: 32).base64EncodedString())
            #expect(!other.verify(id: id, timestamp: timestamp, body: Array(call.body.utf8), header: header))
        }
        #expect(calls[2].body.isEmpty)
    }
}
