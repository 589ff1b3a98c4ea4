import AlmanacTesting
import Journal

/// The journal implementations the contract suite runs against.
enum JournalKind: String, CaseIterable, CustomTestStringConvertible, Sendable {
    case inMemory
    case lmdb
    /// LMDB with the stream index flushed every three records, so reads and version
    /// checks cross the indexed part, the unindexed tail and many flushes; and with no
    /// gathering window, so the writer commits whatever is queued at once.
    case lmdbFrequentIndexFlush

    var testDescription: String { rawValue }

    /// Runs `body` with a fresh, empty journal of this kind.
    func withJournal(_ body: (any Journal) async throws -> Void) async throws {
        switch self {
        case .inMemory:
            let journal = InMemoryJournal()
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
