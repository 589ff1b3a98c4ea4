import AlmanacTesting
import Journal

/// The journal implementations the contract suite runs against.
enum JournalKind: String, CaseIterable, CustomTestStringConvertible, Sendable {
    case inMemory
    case lmdb

    var testDescription: String { rawValue }

    /// Runs `body` with a fresh, empty journal of this kind.
    func withJournal(_ body: (any Journal) async throws -> Void) async throws {
        switch self {
        case .inMemory:
            let journal = InMemoryJournal()
            try await body(journal)
            journal.close()
        case .lmdb:
            try await TemporaryDirectory.with { path in
                try await LMDBJournal.withJournal(at: path, configuration: .init(mapSize: 256 << 20)) { journal in
                    try await body(journal)
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
