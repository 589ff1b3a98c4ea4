import Journal
import Synchronization
import Testing

/// The contract every journal implementation keeps, run against each of them.
@Suite("Journal contract")
struct JournalContractTests {
    @Test(arguments: JournalKind.allCases)
    func positionsAndVersionsAreContiguousFromOne(kind: JournalKind) async throws {
        try await kind.withJournal { (journal: any Journal) async throws in
            #expect(try await journal.head() == 0)
            let first = try await journal.append([event("a1"), event("a2")], to: "a", expectedVersion: .noStream)
            let second = try await journal.append([event("b1")], to: "b", expectedVersion: .noStream)
            let third = try await journal.append([event("a3")], to: "a", expectedVersion: .exactly(2))
            #expect(first == AppendResult(firstPosition: 1, lastPosition: 2, streamVersion: 2))
            #expect(second == AppendResult(firstPosition: 3, lastPosition: 3, streamVersion: 1))
            #expect(third == AppendResult(firstPosition: 4, lastPosition: 4, streamVersion: 3))
            let all = try await journal.read(after: 0, limit: 100)
            #expect(all.map(\.position) == [1, 2, 3, 4])
            #expect(all.map(\.streamID) == ["a", "a", "b", "a"])
            #expect(all.map(\.streamVersion) == [1, 2, 1, 3])
            #expect(texts(all) == ["a1", "a2", "b1", "a3"])
            #expect(try await journal.head() == 4)
        }
    }

    @Test(arguments: JournalKind.allCases)
    func envelopesKeepEveryField(kind: JournalKind) async throws {
        try await kind.withJournal { (journal: any Journal) async throws in
            let proposed = ProposedEvent(type: "TaskCreated", schemaVersion: 3, recordedAt: -42, payload: [0, 255, 7])
            _ = try await journal.append([proposed], to: "task-1", expectedVersion: .any)
            let stored = try #require(try await journal.read(after: 0, limit: 1).first)
            #expect(stored.type == "TaskCreated")
            #expect(stored.schemaVersion == 3)
            #expect(stored.recordedAt == -42)
            #expect(stored.payload == [0, 255, 7])
            #expect(stored.streamID == "task-1")
        }
    }

    @Test(arguments: JournalKind.allCases)
    func readsPageByPositionAndByStream(kind: JournalKind) async throws {
        try await kind.withJournal { (journal: any Journal) async throws in
            for index in 1...10 {
                let stream = StreamID(index.isMultiple(of: 2) ? "even" : "odd")
                _ = try await journal.append([event("\(index)")], to: stream, expectedVersion: .any)
            }
            #expect(try await journal.read(after: 3, limit: 4).map(\.position) == [4, 5, 6, 7])
            #expect(try await journal.read(after: 9, limit: 4).map(\.position) == [10])
            #expect(try await journal.read(after: 10, limit: 4).isEmpty)
            #expect(try await journal.read(after: 0, limit: 0).isEmpty)
            // Positions far past the head (up to the largest) read nothing, and do not wrap.
            #expect(try await journal.read(after: 1 << 63, limit: 4).isEmpty)
            #expect(try await journal.read(after: .max - 1, limit: 4).isEmpty)
            #expect(try await journal.read(after: .max, limit: 4).isEmpty)
            #expect(texts(try await journal.read(stream: "even", after: 0, limit: 100)) == ["2", "4", "6", "8", "10"])
            #expect(texts(try await journal.read(stream: "even", after: 2, limit: 2)) == ["6", "8"])
            #expect(try await journal.read(stream: "missing", after: 0, limit: 10).isEmpty)
            #expect(try await journal.version(of: "odd") == 5)
            #expect(try await journal.version(of: "missing") == 0)
        }
    }

    @Test(arguments: JournalKind.allCases)
    func streamIDsThatArePrefixesOfOthersStayApart(kind: JournalKind) async throws {
        try await kind.withJournal { (journal: any Journal) async throws in
            _ = try await journal.append([event("short")], to: "task", expectedVersion: .noStream)
            _ = try await journal.append([event("long1"), event("long2")], to: "task-2", expectedVersion: .noStream)
            _ = try await journal.append([event("mid")], to: "tas", expectedVersion: .noStream)
            #expect(try await journal.version(of: "task") == 1)
            #expect(try await journal.version(of: "task-2") == 2)
            #expect(try await journal.version(of: "tas") == 1)
            #expect(texts(try await journal.read(stream: "task", after: 0, limit: 10)) == ["short"])
        }
    }

    @Test(arguments: JournalKind.allCases)
    func aWrongExpectedVersionFailsAndAppendsNothing(kind: JournalKind) async throws {
        try await kind.withJournal { (journal: any Journal) async throws in
            _ = try await journal.append([event("1"), event("2")], to: "s", expectedVersion: .noStream)
            let noStream = await #expect(throws: JournalError.self) {
                try await journal.append([event("x")], to: "s", expectedVersion: .noStream)
            }
            #expect(noStream?.code == .wrongExpectedVersion)
            #expect(noStream?.actualVersion == 2)
            let stale = await #expect(throws: JournalError.self) {
                try await journal.append([event("x")], to: "s", expectedVersion: .exactly(1))
            }
            #expect(stale?.code == .wrongExpectedVersion)
            #expect(stale?.streamID == "s")
            let ahead = await #expect(throws: JournalError.self) {
                try await journal.append([event("x")], to: "fresh", expectedVersion: .exactly(3))
            }
            #expect(ahead?.actualVersion == 0)
            #expect(try await journal.head() == 2)
            let any = try await journal.append([event("3")], to: "s", expectedVersion: .any)
            #expect(any.streamVersion == 3)
        }
    }

    @Test(arguments: JournalKind.allCases)
    func aConflictInABatchFailsAlone(kind: JournalKind) async throws {
        try await kind.withJournal { (journal: any Journal) async throws in
            _ = try await journal.append([event("seed")], to: "taken", expectedVersion: .noStream)
            let results = await journal.append([
                AppendRequest(streamID: "one", expectedVersion: .noStream, events: [event("one")]),
                AppendRequest(streamID: "taken", expectedVersion: .noStream, events: [event("conflict")]),
                AppendRequest(streamID: "two", expectedVersion: .noStream, events: [event("two")]),
                AppendRequest(streamID: "one", expectedVersion: .exactly(1), events: [event("one again")]),
            ])
            #expect(results.count == 4)
            #expect(try results[0].get().firstPosition == 2)
            #expect(throws: JournalError.self) { try results[1].get() }
            #expect(try results[2].get().firstPosition == 3)
            #expect(try results[3].get() == AppendResult(firstPosition: 4, lastPosition: 4, streamVersion: 2))
            #expect(texts(try await journal.read(after: 0, limit: 10)) == ["seed", "one", "two", "one again"])
        }
    }

    @Test(arguments: JournalKind.allCases)
    func malformedAppendsAreRefusedWithNothingStored(kind: JournalKind) async throws {
        try await kind.withJournal { (journal: any Journal) async throws in
            let cases: [AppendRequest] = [
                AppendRequest(streamID: "s", expectedVersion: .any, events: []),
                AppendRequest(streamID: "", expectedVersion: .any, events: [event("x")]),
                AppendRequest(streamID: StreamID(String(repeating: "x", count: 256)), expectedVersion: .any, events: [event("x")]),
                AppendRequest(streamID: "s", expectedVersion: .any, events: [event("x", type: "")]),
            ]
            let results = await journal.append(cases)
            for result in results {
                guard case .failure(let error) = result else {
                    Issue.record("a malformed append was accepted")
                    continue
                }
                #expect(error.code == JournalError.Code.invalidAppend)
            }
            #expect(try await journal.head() == 0)
        }
    }

    @Test(arguments: JournalKind.allCases)
    func concurrentAppendersToOneStreamNeverBothWin(kind: JournalKind) async throws {
        try await kind.withJournal { (journal: any Journal) async throws in
            let wins = await withTaskGroup(of: Bool.self) { group in
                for index in 0..<32 {
                    group.addTask {
                        (try? await journal.append([event("\(index)")], to: "contested", expectedVersion: .noStream)) != nil
                    }
                }
                return await group.reduce(0) { $0 + ($1 ? 1 : 0) }
            }
            #expect(wins == 1)
            #expect(try await journal.version(of: "contested") == 1)
        }
    }

    @Test(.timeLimit(.minutes(1)), arguments: JournalKind.allCases)
    func aSubscriptionDeliversEveryEventOnceInOrderWhileManyAppend(kind: JournalKind) async throws {
        try await kind.withJournal { (journal: any Journal) async throws in
            let appenders = 16, appendsEach = 40
            let total = appenders * appendsEach
            async let received: [RecordedEvent] = {
                var events: [RecordedEvent] = []
                for try await event in journal.subscribe(after: 0, batchSize: 7) {
                    events.append(event)
                    if events.count == total { break }
                }
                return events
            }()
            await withTaskGroup(of: Void.self) { group in
                for appender in 0..<appenders {
                    group.addTask {
                        let stream = StreamID("task-\(appender)")
                        for index in 0..<appendsEach {
                            do {
                                _ = try await journal.append([event("\(appender)/\(index)")], to: stream, expectedVersion: .exactly(UInt64(index)))
                            } catch {
                                Issue.record("append failed: \(error)")
                            }
                        }
                    }
                }
            }
            let events = try await received
            #expect(events.map(\.position) == Array(1...UInt64(total)))
            var versions: [StreamID: UInt64] = [:]
            for event in events {
                #expect(event.streamVersion == (versions[event.streamID] ?? 0) + 1)
                versions[event.streamID] = event.streamVersion
            }
            #expect(versions.count == appenders)
        }
    }

    @Test(arguments: JournalKind.allCases)
    func aSubscriptionFromTheMiddleStartsAfterItsPosition(kind: JournalKind) async throws {
        try await kind.withJournal { (journal: any Journal) async throws in
            for index in 1...5 { _ = try await journal.append([event("\(index)")], to: "s", expectedVersion: .any) }
            var iterator = journal.subscribe(after: 3).makeAsyncIterator()
            #expect(try await iterator.next()?.position == 4)
            #expect(try await iterator.next()?.position == 5)
            _ = try await journal.append([event("6")], to: "s", expectedVersion: .any)
            #expect(try await iterator.next()?.position == 6)
        }
    }

    @Test(.timeLimit(.minutes(1)), arguments: JournalKind.allCases)
    func aCancelledSubscriptionEnds(kind: JournalKind) async throws {
        try await kind.withJournal { (journal: any Journal) async throws in
            let waiting = Task {
                var count = 0
                for try await _ in journal.subscribe(after: 0) { count += 1 }
                return count
            }
            _ = try await journal.append([event("1")], to: "s", expectedVersion: .any)
            waiting.cancel()
            let count = try await waiting.value
            #expect(count <= 1)
        }
    }

    @Test func everyImplementationChainsTheSameChecksums() async throws {
        var chains: [[UInt32]] = []
        for kind in JournalKind.allCases {
            try await kind.withJournal { (journal: any Journal) async throws in
                _ = try await journal.append([event("a"), event("b")], to: "one", expectedVersion: .noStream)
                _ = try await journal.append([event("c")], to: "two", expectedVersion: .noStream)
                chains.append(try await journal.read(after: 0, limit: 10).map(\.checksum))
            }
        }
        #expect(chains.count == JournalKind.allCases.count)
        #expect(chains.allSatisfy { $0 == chains[0] })
        #expect(Set(chains[0]).count == 3)
    }
}
