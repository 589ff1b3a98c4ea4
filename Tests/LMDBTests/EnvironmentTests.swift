import AlmanacTesting
import Foundation
import LMDB
import Testing

@Suite("LMDB environment")
struct EnvironmentTests {
    private func key(_ value: UInt64) -> [UInt8] { withUnsafeBytes(of: value.bigEndian) { Array($0) } }

    @Test func putGetAndDeleteRoundTrip() async throws {
        try await TemporaryDirectory.with { path in
            let environment = try Environment(path: path)
            let database = try environment.openDatabase(named: "things", create: true)
            try environment.withWriteTransaction { txn in
                try txn.put(Array("one".utf8), forKey: "a", in: database)
                try txn.put(Array("two".utf8), forKey: "b", in: database)
            }
            let (a, b, missing) = try environment.withReadTransaction { txn in
                (
                    try txn.value(forKey: "a", in: database),
                    try txn.value(forKey: "b", in: database),
                    try txn.value(forKey: "c", in: database)
                )
            }
            #expect(a == Array("one".utf8))
            #expect(b == Array("two".utf8))
            #expect(missing == nil)
            let deleted = try environment.withWriteTransaction { txn in
                (try txn.delete(forKey: "a", in: database), try txn.delete(forKey: "zzz", in: database))
            }
            #expect(deleted == (true, false))
            #expect(try environment.withReadTransaction { try $0.count(in: database) } == 1)
        }
    }

    @Test func cursorVisitsBigEndianKeysInNumericOrder() async throws {
        try await TemporaryDirectory.with { path in
            let environment = try Environment(path: path)
            let database = try environment.openDatabase(named: "numbers", create: true)
            let numbers: [UInt64] = [1, 2, 255, 256, 65_536, 1 << 40]
            try environment.withWriteTransaction { txn in
                for number in numbers {
                    try txn.put([UInt8(number & 0xFF)], forKey: key(number), in: database, options: .append)
                }
            }
            let (visited, fromSeek, last) = try environment.withReadTransaction { txn in
                try txn.withCursor(in: database) { cursor in
                    var visited: [UInt64] = []
                    var entry = try cursor.first()
                    while let (k, _) = entry {
                        visited.append(UInt64(bigEndian: k.loadUnaligned(as: UInt64.self)))
                        entry = try cursor.next()
                    }
                    let seek = try cursor.seek(atLeast: key(257)).map { UInt64(bigEndian: $0.key.loadUnaligned(as: UInt64.self)) }
                    let last = try cursor.last().map { UInt64(bigEndian: $0.key.loadUnaligned(as: UInt64.self)) }
                    return (visited, seek, last)
                }
            }
            #expect(visited == numbers)
            #expect(fromSeek == 65_536)
            #expect(last == 1 << 40)
        }
    }

    @Test func appendingOutOfOrderIsRefused() async throws {
        try await TemporaryDirectory.with { path in
            let environment = try Environment(path: path)
            let database = try environment.openDatabase(named: "log", create: true)
            try environment.withWriteTransaction { txn in
                try txn.put([1], forKey: key(10), in: database, options: .append)
            }
            #expect(throws: LMDBError.self) {
                try environment.withWriteTransaction { txn in
                    try txn.put([2], forKey: key(5), in: database, options: .append)
                }
            }
        }
    }

    @Test func aThrowingWriteTransactionStoresNothing() async throws {
        struct Stop: Error {}
        try await TemporaryDirectory.with { path in
            let environment = try Environment(path: path)
            let database = try environment.openDatabase(named: "things", create: true)
            #expect(throws: Stop.self) {
                try environment.withWriteTransaction { txn in
                    try txn.put([1], forKey: "kept?", in: database)
                    throw Stop()
                }
            }
            #expect(try environment.withReadTransaction { try $0.value(forKey: "kept?", in: database) } == nil)
        }
    }

    @Test func aFullMapIsATypedErrorAndTheEnvironmentStaysUsable() async throws {
        try await TemporaryDirectory.with { path in
            let environment = try Environment(path: path, options: .init(mapSize: 64 * 1024))
            let database = try environment.openDatabase(named: "big", create: true)
            let value = [UInt8](repeating: 7, count: 3000)
            var stored = 0
            var failure: LMDBError?
            for index in 0..<1000 {
                do {
                    try environment.withWriteTransaction { txn in
                        try txn.put(value, forKey: key(UInt64(index)), in: database, options: .append)
                    }
                    stored += 1
                } catch let error as LMDBError {
                    failure = error
                    break
                }
            }
            #expect(failure?.code == .mapFull)
            #expect(failure?.message.contains("larger map size") == true)
            #expect(stored > 0)
            #expect(try environment.withReadTransaction { try $0.count(in: database) } == stored)
        }
    }

    @Test func aReadOnlyEnvironmentSeesCommittedDataAndRefusesWrites() async throws {
        // LMDB forbids opening one environment twice in a process at once, so the writer
        // closes first; reading beside a live writer is tested across processes.
        try await TemporaryDirectory.with { path in
            let writer = try Environment(path: path)
            let database = try writer.openDatabase(named: "things", create: true)
            try writer.withWriteTransaction { try $0.put([42], forKey: "answer", in: database) }
            writer.close()
            let reader = try Environment(path: path, options: .init(readOnly: true))
            let readOnlyDatabase = try reader.openDatabase(named: "things", create: false)
            #expect(try reader.withReadTransaction { try $0.value(forKey: "answer", in: readOnlyDatabase) } == [42])
            #expect(throws: LMDBError.self) {
                try reader.withWriteTransaction { try $0.put([1], forKey: "x", in: readOnlyDatabase) }
            }
        }
    }

    @Test func usingAClosedEnvironmentIsAnErrorNotACrash() async throws {
        try await TemporaryDirectory.with { path in
            let environment = try Environment(path: path)
            let database = try environment.openDatabase(named: "things", create: true)
            environment.close()
            environment.close()
            let error = #expect(throws: LMDBError.self) {
                try environment.withReadTransaction { try $0.value(forKey: "x", in: database) }
            }
            #expect(error?.code == .closed)
            #expect(throws: LMDBError.self) { try environment.info() }
        }
    }

    @Test func openingAMissingDirectoryFailsWithAnExplanation() throws {
        let error = #expect(throws: LMDBError.self) {
            _ = try Environment(path: "/nonexistent/almanac/\(UUID().uuidString)")
        }
        #expect(error?.operation.hasPrefix("mdb_env_open") == true)
        #expect(error?.description.contains("No such file") == true)
    }

    @Test func aCompactingCopyHoldsTheSameData() async throws {
        try await TemporaryDirectory.with { path in
            let source = path + "/source", copy = path + "/copy"
            for directory in [source, copy] {
                try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
            }
            let environment = try Environment(path: source)
            let database = try environment.openDatabase(named: "things", create: true)
            try environment.withWriteTransaction { txn in
                for index in 0..<200 { try txn.put([UInt8(index % 256)], forKey: key(UInt64(index)), in: database) }
            }
            try environment.withWriteTransaction { txn in
                for index in stride(from: 0, to: 200, by: 2) { try txn.delete(forKey: key(UInt64(index)), in: database) }
            }
            try environment.copy(to: copy, compact: true)
            let copied = try Environment(path: copy, options: .init(readOnly: true))
            let copiedDatabase = try copied.openDatabase(named: "things", create: false)
            let (count, odd, even) = try copied.withReadTransaction { txn in
                (
                    try txn.count(in: copiedDatabase),
                    try txn.value(forKey: key(7), in: copiedDatabase),
                    try txn.value(forKey: key(8), in: copiedDatabase)
                )
            }
            #expect(count == 100)
            #expect(odd == [7])
            #expect(even == nil)
        }
    }

    @Test func everyLMDBCodeHasAnActionableMessage() {
        let codes: [(LMDBError.Code, String)] = [
            (.mapFull, "map size"), (.readersFull, "reader"), (.versionMismatch, "LMDB version"),
            (.invalid, "not an LMDB"), (.corrupted, "snapshot"), (.panic, "restart"),
        ]
        for (code, phrase) in codes {
            let error = LMDBError(returnCode: code.rawValue, operation: "test")
            #expect(error.code == code)
            #expect(error.message.contains(phrase), "\(code): \(error.message)")
        }
    }
}
