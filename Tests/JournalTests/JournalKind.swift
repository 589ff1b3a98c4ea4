import AlmanacTesting
import Foundation
import Journal
import PostgresJournal

/// The journal implementations the contract suite runs against.
enum JournalKind: String, CaseIterable, CustomTestStringConvertible, Sendable {
    case inMemory
    case lmdb
    /// LMDB with the stream index flushed every three records, so reads and version
    /// checks cross the indexed part, the unindexed tail and many flushes; and with no
    /// gathering window, so the writer commits whatever is queued at once.
    case lmdbFrequentIndexFlush
    /// PostgreSQL, when `ALMANAC_TEST_POSTGRES_URL` names a server (`make test` starts a
    /// throwaway one with `tools/postgres-test-server.sh`); each journal gets a table of its own.
    case postgres

    /// The kinds to test: PostgreSQL only when a server is given.
    static var allCases: [JournalKind] {
        [.inMemory, .lmdb, .lmdbFrequentIndexFlush] + (postgresURL == nil ? [] : [.postgres])
    }

    static var postgresURL: String? { ProcessInfo.processInfo.environment["ALMANAC_TEST_POSTGRES_URL"] }

    var testDescription: String { rawValue }

    /// Runs `body` with a fresh, empty journal of this kind.
    func withJournal(_ body: (any Journal) async throws -> Void) async throws {
        switch self {
        case .inMemory:
            let journal = InMemoryJournal()
            try await body(journal)
            journal.close()
        case .postgres:
            let table = "events_" + UUID().uuidString.lowercased().replacingOccurrences(of: "-", with: "")
            let journal = try await PostgresJournal(configuration: .init(url: Self.postgresURL ?? "", table: table, clock: ContinuousClock()))
            try await body(journal)
            journal.close()
        case .lmdb, .lmdbFrequentIndexFlush:
            let threshold = self == .lmdb ? 8_192 : 3
            try await TemporaryDirectory.with { path in
                try await LMDBJournal.withJournal(
                    at: path,
                    configuration: .init(
                        mapSize: 256 << 20,
                        indexFlushThreshold: threshold,
                        gatheringWindow: self == .lmdb ? .microseconds(200) : .zero
                    )
                ) { journal in
                    try await body(journal)
                    let report = try journal.verifyIntegrity()
                    #expect(report.isClean, "\(report.problems)")
                }
            }
        }
    }
}

import Testing

/// A small event for tests: its payload is the given text.
func event(_ text: String, type: String = "Noted", at recordedAt: Int64 = 1_700_000_000_000_000) -> ProposedEvent {
    ProposedEvent(type: type, recordedAt: recordedAt, payload: Array(text.utf8))
}

/// The payloads of `events`, as text.
func texts(_ events: [RecordedEvent]) -> [String] {
    events.map { String(decoding: $0.payload, as: UTF8.self) }
}
