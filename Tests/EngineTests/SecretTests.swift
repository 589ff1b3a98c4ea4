import AlmanacTesting
@testable import Engine
import Foundation
import Scheduling
import Testing

/// Sealed secrets: AES-256-GCM bound to the task and field, opened only by the executor at
/// call time, with the plaintext masked in what the run log keeps.
@Suite("Secrets", .timeLimit(.minutes(2)))
struct SecretTests {
    static let key = Array(0..<32).map { UInt8($0) }

    @Test func aSealedValueOpensOnlyForItsTaskAndFieldWithItsKey() throws {
        let box = try SecretBox(key: Self.key)
        let field = WebhookAction.sealingField(header: "Authorization")
        let sealed = box.seal("Bearer hunter2-secret", task: "report", field: field)
        #expect(sealed.text.hasPrefix("sealed:v1:\(box.keyID):"))
        #expect(sealed.keyID == box.keyID)
        #expect(box.keyID.count == 16)
        #expect(!sealed.text.contains("hunter2"))
        #expect(!"\(sealed)".contains("hunter2"))
        #expect(try box.open(sealed, task: "report", field: field) == "Bearer hunter2-secret")
        // Each seal has its own nonce: equal secrets do not give equal text.
        #expect(box.seal("Bearer hunter2-secret", task: "report", field: field) != sealed)

        // Another task, another field, another key, an altered byte: none opens it.
        #expect(throws: SecretError.self) { try box.open(sealed, task: "other", field: field) }
        #expect(throws: SecretError.self) { try box.open(sealed, task: "report", field: WebhookAction.sealingField(header: "X-Api-Key")) }
        let other = try SecretBox(key: Array(repeating: 7, count: 32))
        do {
            _ = try other.open(sealed, task: "report", field: field)
            Issue.record("opened with another key")
        } catch {
            #expect(error.message.contains(box.keyID) && error.message.contains(other.keyID), "\(error)")
        }
        // One bit flipped in each part: the nonce, the ciphertext, the tag.
        let prefix = sealed.text.split(separator: ":").dropLast().joined(separator: ":") + ":"
        let combined = try #require(Data(base64Encoded: String(sealed.text.split(separator: ":").last!)))
        for index in [0, 14, combined.count - 1] {
            var altered = combined
            altered[index] ^= 0x01
            #expect(throws: SecretError.self) { try box.open(SealedSecret(text: prefix + altered.base64EncodedString()), task: "report", field: field) }
        }
        #expect(throws: SecretError.self) { try box.open(SealedSecret(text: "plain text"), task: "report", field: field) }
        #expect(throws: SecretError.self) { try SecretBox(key: Array(repeating: 1, count: 16)) }
    }

    @Test func theExecutorSendsSecretsAndSignsWithTheTasksOwnSecretAndMasksEchoes() async throws {
        let box = try SecretBox(key: Self.key)
        let serverSigner = try WebhookSigner(secret: "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw")
        let taskSecret = "whsec_" + Data(repeating: 42, count: 32).base64EncodedString()
        let token = "Bearer tok-\(UUID().uuidString)"
        // The receiver echoes the secret back, in the middle of a long body, and at the excerpt's edge.
        let filler = String(repeating: "x", count: 4096 - 10)
        let receiver = try await WebhookReceiver.start { path in
            .init(status: path == "/fail" ? 500 : 200, body: "echo: \(token) …" + filler + token)
        }
        let clock = ManualClock(now: Instant(secondsSinceEpoch: 1_795_428_061))
        let executor = HTTPExecutor(clock: clock, configuration: .init(signer: serverSigner, addressPolicy: nil, secrets: box))
        let task: TaskID = "report"
        let action = WebhookAction(
            url: receiver.url("/hook"), method: "POST",
            headers: [.init(name: "X-Team", value: "billing"),
                      .init(name: "Authorization", sealed: box.seal(token, task: task, field: WebhookAction.sealingField(header: "Authorization")))],
            body: "{}", signingSecret: box.seal(taskSecret, task: task, field: WebhookAction.signingSecretField)
        )
        let result = await executor.execute(Self.request(task: task, action: action, clock: clock))
        guard case .succeeded(let outcome) = result else { Issue.record("\(result)"); return }
        let excerpt = try #require(outcome.responseExcerpt)
        #expect(!excerpt.contains("tok-"), "\(excerpt.prefix(80))")
        #expect(excerpt.hasPrefix("echo: [secret] …"))
        #expect(excerpt.utf8.count <= 4096)

        let call = try #require(receiver.received.first)
        #expect(call.header("Authorization") == token)
        #expect(call.header("X-Team") == "billing")
        let id = try #require(call.header("webhook-id"))
        let timestamp = try #require(call.header("webhook-timestamp").flatMap { Int64($0) })
        let signature = try #require(call.header("webhook-signature"))
        #expect(try WebhookSigner(secret: taskSecret).verify(id: id, timestamp: timestamp, body: Array(call.body.utf8), header: signature))
        #expect(!serverSigner.verify(id: id, timestamp: timestamp, body: Array(call.body.utf8), header: signature))

        // A secret sealed with another key fails the run with its reason, and nothing is sent.
        let stranger = try SecretBox(key: Array(repeating: 9, count: 32))
        var foreign = action
        foreign.headers[1] = .init(name: "Authorization", sealed: stranger.seal(token, task: task, field: WebhookAction.sealingField(header: "Authorization")))
        let refused = await executor.execute(Self.request(task: task, action: foreign, clock: clock))
        guard case .failed(let failure) = refused else { Issue.record("\(refused)"); return }
        #expect(failure.error?.contains("sealed with key \(stranger.keyID)") == true, "\(failure)")
        #expect(failure.statusCode == nil)
        // An executor without the key cannot call a task with secrets.
        let keyless = HTTPExecutor(clock: clock, configuration: .init(addressPolicy: nil))
        let keylessResult = await keyless.execute(Self.request(task: task, action: action, clock: clock))
        guard case .failed(let keylessFailure) = keylessResult else { Issue.record("\(keylessResult)"); return }
        #expect(keylessFailure.error?.contains("no secrets key") == true)
        #expect(receiver.received.count == 1)
        try await keyless.shutdown()
        try await executor.shutdown()
        try await receiver.stop()
    }

    static func request(task: TaskID, action: WebhookAction, clock: ManualClock) -> RunRequest {
        let scheduled = clock.now()
        let occurrence = OccurrenceID.scheduled(task, at: scheduled)
        return RunRequest(
            taskID: task,
            start: RunStart(
                run: RunID(occurrence, attempt: 1), occurrence: occurrence, scheduledAt: scheduled,
                dueAt: scheduled, attempt: 1, occurrenceKind: .scheduled, nextDueAt: nil
            ),
            action: action, firedAt: scheduled
        )
    }
}

/// What the executor keeps of a response or an error never holds a secret in the common
/// forms an echo takes.
@Suite("Secret masking")
struct SecretMaskTests {
    @Test func echoesAsSentTrimmedWithoutSchemeJSONEscapedOrURLEncodedAreMasked() {
        let mask = SecretMask(["Bearer tok\"QUOTE\\back/slash", "K9z", "pässwörd-UNI", "Bearer SPACE-LEAKW"])
        let echoes = [
            #"{"Authorization": "Bearer tok\"QUOTE\\back/slash"}"#,
            #"{"Authorization": "Bearer tok\"QUOTE\\back\/slash"}"#,
            "token tok\"QUOTE\\back/slash only",
            #"{"X-Unicode": "p\u00e4ssw\u00f6rd-UNI"}"#,
            #"{"X-Unicode": "p\u00E4ssw\u00F6rd-UNI"}"#,
            #"{"X-Unicode": "p\u00c3\u00a4ssw\u00c3\u00b6rd-UNI"}"#,
            "p%C3%A4ssw%C3%B6rd-UNI in a query",
            "Authorization: Bearer SPACE-LEAKW",
            "just SPACE-LEAKW",
        ]
        for echo in echoes {
            let masked = mask.apply(echo)
            #expect(masked.contains("[secret]"), "\(echo) → \(masked)")
            for part in ["QUOTE", "UNI", "LEAKW", "ssw"] { #expect(!masked.contains(part), "\(echo) → \(masked)") }
        }
        // Three characters or fewer are not masked: they would mask ordinary text.
        #expect(mask.apply("K9z") == "K9z")
        #expect(SecretMask([]).isEmpty)
    }

    @Test func aHeaderHTTPCannotSendFailsWithoutItsValue() async throws {
        let box = SecretBox.ephemeral()
        let receiver = try await WebhookReceiver.start()
        let clock = ManualClock(now: Instant(secondsSinceEpoch: 1_795_428_061))
        let executor = HTTPExecutor(clock: clock, configuration: .init(addressPolicy: nil, secrets: box))
        let task: TaskID = "stored-before-validation"
        for header in [
            WebhookAction.Header(name: "X-Plain", value: "CTRL\u{1}LEAKX"),
            WebhookAction.Header(name: "Authorization", sealed: box.seal("Bearer CTRL\u{1}LEAKY", task: task, field: WebhookAction.sealingField(header: "Authorization"))),
        ] {
            let action = WebhookAction(url: receiver.url("/hook"), headers: [header])
            let result = await executor.execute(SecretTests.request(task: task, action: action, clock: clock))
            guard case .failed(let outcome) = result else { Issue.record("\(result)"); continue }
            let error = outcome.error ?? ""
            #expect(!error.contains("LEAK") && !error.contains("CTRL"), "\(error)")
            #expect(error.contains("header"), "\(error)")
        }
        #expect(receiver.received.isEmpty)
        try await executor.shutdown()
        try await receiver.stop()
    }
}
