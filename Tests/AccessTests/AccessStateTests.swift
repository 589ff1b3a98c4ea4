import Access
import AlmanacTesting
import Journal
import Scheduling
import Testing

private let now = Instant(rfc3339: "2026-11-23T08:00:00Z")!

/// Issues a token on `state` and folds the event in; returns the token's text.
private func issue(
    _ state: inout AccessState, _ name: String, _ role: Role, namespace: String? = nil, random: inout SeededRandom
) throws -> (token: AccessToken, text: String) {
    let decided = try state.create(name: name, role: role, namespace: namespace, actor: "cli", now: now, using: &random)
    state.apply(decided.event, streamVersion: state.version + 1)
    guard case .tokenCreated(let token) = decided.event.kind else { throw AccessError(field: "kind", message: "not created") }
    return (token, decided.text)
}

@Suite struct AccessStateTests {
    @Test func rolesIncludeTheOnesBelow() {
        #expect(Role.viewer.allows(.read))
        #expect(!Role.viewer.allows(.operate))
        #expect(Role.operator.allows(.operate))
        #expect(!Role.operator.allows(.write))
        #expect(!Role.operator.allows(.manageTokens))
        #expect(Role.admin.allows(.write) && Role.admin.allows(.manageTokens))
    }

    @Test func aTokenAuthenticatesByItsFullTextOnlyAndOnlyWhileActive() throws {
        var random = SeededRandom(seed: 1)
        var state = AccessState()
        #expect(!state.hasTokens)
        let (token, text) = try issue(&state, "deploy-bot", .operator, random: &random)
        #expect(text.hasPrefix("alm_\(token.id)_"))
        #expect(text.utf8.count == 4 + 16 + 1 + 43)
        #expect(token.hash == TokenText.hash(text))
        #expect(!token.hash.contains(String(text.suffix(43))))
        #expect(state.authenticate(text)?.name == "deploy-bot")
        // One character changed in the secret, in the id, or a cut token: refused.
        var altered = Array(text)
        altered[altered.count - 1] = altered[altered.count - 1] == "A" ? "B" : "A"
        #expect(state.authenticate(String(altered)) == nil)
        #expect(state.authenticate(String(text.dropLast())) == nil)
        #expect(state.authenticate("alm_0000000000000000_" + String(text.suffix(43))) == nil)
        #expect(state.authenticate("") == nil)

        let revoke = try state.revoke("deploy-bot", actor: "cli", now: now)
        state.apply(revoke, streamVersion: state.version + 1)
        #expect(state.authenticate(text) == nil)
        #expect(state.tokens[token.id]?.revokedAt == now)
        // Revoking every token never opens the API again.
        #expect(state.hasTokens)
        #expect(throws: AccessError.self) { try state.revoke(token.id, actor: "cli", now: now) }
    }

    @Test func namesAreUniqueAmongActiveTokensAndChecked() throws {
        var random = SeededRandom(seed: 2)
        var state = AccessState()
        let first = try issue(&state, "ci", .viewer, random: &random)
        #expect { try state.create(name: "ci", role: .admin, namespace: nil, actor: "cli", now: now, using: &random) } throws: { error in
            (error as? AccessError)?.code == .conflict && (error as? AccessError)?.field == "name"
        }
        for bad in ["", "has space", String(repeating: "x", count: 65), "scheduler", "naïve"] {
            #expect(throws: AccessError.self) { try state.create(name: bad, role: .viewer, namespace: nil, actor: "cli", now: now, using: &random) }
        }
        for bad in ["", "Upper", "-lead", "has_underscore", String(repeating: "a", count: 64)] {
            #expect { try state.create(name: "n", role: .viewer, namespace: bad, actor: "cli", now: now, using: &random) } throws: { error in
                (error as? AccessError)?.field == "namespace"
            }
        }
        // After revoking, the name is free again; both tokens stay on record.
        state.apply(try state.revoke(first.token.id, actor: "cli", now: now), streamVersion: state.version + 1)
        let second = try issue(&state, "ci", .admin, namespace: "team-a", random: &random)
        #expect(state.tokens.count == 2)
        // A namespaced token is named name@namespace: names collide only within a namespace,
        // so a tenant choosing a name learns nothing of another tenant's tokens.
        #expect(second.token.name == "ci@team-a")
        #expect(state.token("ci@team-a")?.id == second.token.id)
        let other = try issue(&state, "ci@team-b", .admin, namespace: "team-b", random: &random)
        #expect(other.token.name == "ci@team-b")
        #expect { try state.create(name: "ci", role: .viewer, namespace: "team-a", actor: "cli", now: now, using: &random) } throws: { error in
            (error as? AccessError)?.code == .conflict
        }
        for bad in ["a@b", "ci@team-b"] {
            #expect(throws: AccessError.self, "\(bad)") { try state.create(name: bad, role: .viewer, namespace: bad == "a@b" ? nil : "team-a", actor: "cli", now: now, using: &random) }
        }
        #expect(second.token.sees("team-a") && !second.token.sees("default"))
        #expect(first.token.sees("anything"))
    }

    @Test func eventsRoundTripThroughTheJournalForm() throws {
        var random = SeededRandom(seed: 3)
        var state = AccessState()
        let decided = try state.create(name: "ops", role: .admin, namespace: "billing", actor: "cli", reason: "on-call", now: now, using: &random)
        let revoked = AccessEvent(at: now + .seconds(5), actor: "ops", reason: nil, kind: .tokenRevoked(id: "abc"))
        for (version, event) in [decided.event, revoked].enumerated() {
            let proposed = AccessEventCodec.encode(event)
            #expect(!String(decoding: proposed.payload, as: UTF8.self).contains(decided.text))
            let recorded = RecordedEvent(
                position: UInt64(version + 1), streamID: AccessEvent.streamID, streamVersion: UInt64(version + 1),
                type: proposed.type, schemaVersion: proposed.schemaVersion, recordedAt: proposed.recordedAt, payload: proposed.payload, checksum: 0
            )
            #expect(try AccessEventCodec.decode(recorded) == event)
        }
        state.apply(decided.event, streamVersion: 1)
        #expect(state.version == 1)
        let bogus = RecordedEvent(
            position: 9, streamID: AccessEvent.streamID, streamVersion: 2, type: "TokenStolen", schemaVersion: 1, recordedAt: 0, payload: [], checksum: 0
        )
        #expect(throws: (any Error).self) { try AccessEventCodec.decode(bogus) }
        #expect(AccessEvent.streamID.isReserved)
        #expect(!StreamID("task-1").isReserved)
    }
}
