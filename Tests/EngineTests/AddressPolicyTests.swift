import AlmanacTesting
import Engine
import Foundation
import Scheduling
import Testing

/// The SSRF guard: which addresses webhook calls may reach, and calls refused after resolution.
@Suite("Address policy", .timeLimit(.minutes(2)))
struct AddressPolicyTests {
    private func address(_ text: String) throws -> [UInt8] { try #require(CIDR.parseAddress(text)) }

    @Test func byDefaultLinkLocalAndMetadataAreRefusedInEveryDisguise() throws {
        let policy = AddressPolicy()
        for refused in [
            "169.254.169.254", "169.254.0.1", "fe80::1", "fd00:ec2::254", "100.100.100.200",
            "::ffff:169.254.169.254",  // IPv4-mapped
            "64:ff9b::a9fe:a9fe",  // NAT64 of 169.254.169.254
            "2002:a9fe:a9fe::1",  // 6to4
        ] {
            #expect(policy.refusal(try address(refused)) != nil, "\(refused)")
        }
        // Teredo carries the client's IPv4 address inverted: ~a9fe:a9fe = 5601:5601.
        #expect(policy.refusal(try address("2001:0:4136:e378:8000:63bf:5601:5601")) != nil)
        for allowed in ["127.0.0.1", "10.1.2.3", "192.168.1.1", "::1", "8.8.8.8", "2606:4700::1111", "::ffff:127.0.0.1"] {
            #expect(policy.refusal(try address(allowed)) == nil, "\(allowed)")
        }
        #expect(policy.refusal(literal: "[fe80::1]")?.contains("fe80::/10") == true)
        // More IPv4-in-IPv6 forms, and targets that are never a webhook's host.
        for refused in ["::169.254.169.254", "::ffff:0:169.254.169.254", "64:ff9b:1:a9fe:a9:fe00::", "224.0.0.1", "255.255.255.255", "240.0.0.1", "ff02::1"] {
            #expect(policy.refusal(try address(refused)) != nil, "\(refused)")
        }
        #expect(policy.refusal(literal: "example.com") == nil, "names are judged once resolved")
    }

    @Test func denyPrivateRefusesLoopbackAndPrivateRangesAndAllowWins() throws {
        var policy = AddressPolicy(denyPrivate: true)
        for refused in ["127.0.0.1", "10.0.0.1", "172.16.5.4", "192.168.0.10", "100.64.0.1", "::1", "fd12::1", "0.0.0.0", "::ffff:10.0.0.1"] {
            #expect(policy.refusal(try address(refused)) != nil, "\(refused)")
        }
        #expect(policy.refusal(try address("172.32.0.1")) == nil)
        for refused in ["::127.0.0.1", "::ffff:0:127.0.0.1", "64:ff9b:1:7f00:0:100::"] {
            #expect(policy.refusal(try address(refused)) != nil, "\(refused)")
        }
        #expect(policy.refusal(try address("8.8.8.8")) == nil)
        policy.allow = [try #require(CIDR("10.20.0.0/16")), try #require(CIDR("169.254.10.5"))]
        #expect(policy.refusal(try address("10.20.3.4")) == nil)
        #expect(policy.refusal(try address("10.21.3.4")) != nil)
        #expect(policy.refusal(try address("169.254.10.5")) == nil)
        #expect(policy.refusal(try address("169.254.10.6")) != nil)
    }

    @Test func rangesParseStrictly() throws {
        for bad in ["", "10.0.0.0/33", "10.0.0/8", "fe80::/129", "example.com/8", "10.0.0.0/-1", "1.2.3.4/x"] {
            #expect(CIDR(bad) == nil, "\(bad)")
        }
        #expect(CIDR("10.1.2.3/8")?.description == "10.0.0.0/8")
        #expect(CIDR("fe80::1234/10")?.description == "fe80::/10")
        #expect(CIDR("1.2.3.4")?.description == "1.2.3.4/32")
        #expect(CIDR("10.0.0.0/8")?.contains(try address("::ffff:10.0.0.1")) == false, "families never mix")
    }

    @Test func callsAreCheckedAfterResolutionAndConnectToTheCheckedAddress() async throws {
        let receiver = try await WebhookReceiver.start()
        let clock = SystemClock()
        let scheduled = Instant(secondsSinceEpoch: 1_795_428_060)
        let occurrence = OccurrenceID.scheduled("guarded", at: scheduled)
        func request(_ url: String) -> RunRequest {
            RunRequest(
                taskID: "guarded",
                start: RunStart(
                    run: RunID(occurrence, attempt: 1), occurrence: occurrence, scheduledAt: scheduled, dueAt: scheduled,
                    attempt: 1, occurrenceKind: .scheduled, nextDueAt: nil
                ),
                action: WebhookAction(url: url, method: "POST"),
                firedAt: scheduled
            )
        }
        // By name, allowed: the call goes to the resolved address with the name in Host.
        let open = HTTPExecutor(clock: clock)
        let byName = await open.execute(request("http://localhost:\(receiver.port)/by-name?x=1"))
        guard case .succeeded = byName else { Issue.record("a call to localhost failed: \(byName)"); return }
        #expect(receiver.received.last?.header("Host") == "localhost:\(receiver.port)")
        #expect(receiver.received.last?.uri == "/by-name?x=1")
        try await open.shutdown()

        // The same name under a policy that refuses loopback: refused before any connection.
        let strict = HTTPExecutor(clock: clock, configuration: .init(addressPolicy: AddressPolicy(denyPrivate: true)))
        let before = receiver.received.count
        for url in ["http://localhost:\(receiver.port)/no", "http://127.0.0.1:\(receiver.port)/no", "https://localhost:\(receiver.port)/no"] {
            let result = await strict.execute(request(url))
            guard case .failed(let outcome) = result else { Issue.record("\(url) was called: \(result)"); continue }
            #expect(outcome.error?.contains("refused by the address policy") == true, "\(outcome.error ?? "-")")
            #expect(outcome.statusCode == nil)
        }
        let metadata = await strict.execute(request("http://169.254.169.254/latest/meta-data/"))
        guard case .failed(let refused) = metadata else { Issue.record("metadata was called"); return }
        #expect(refused.error?.contains("169.254.0.0/16") == true)
        let unresolvable = await strict.execute(request("http://no-such-host.invalid/"))
        guard case .failed(let unresolved) = unresolvable else { Issue.record("an unresolvable host succeeded"); return }
        #expect(unresolved.error?.contains("cannot resolve") == true, "\(unresolved.error ?? "-")")
        try await strict.shutdown()
        try await receiver.stop()
        #expect(receiver.received.count == before)
    }
}
