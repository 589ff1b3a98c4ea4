import Journal
import Testing

@Suite("CRC32C")
struct CRC32CTests {
    @Test func matchesPublishedCheckValues() {
        // The standard check value for CRC-32C, and RFC 3720's all-zero and all-ones vectors.
        #expect(CRC32C.checksum(Array("123456789".utf8)) == 0xE306_9283)
        #expect(CRC32C.checksum([UInt8](repeating: 0, count: 32)) == 0x8A91_36AA)
        #expect(CRC32C.checksum([UInt8](repeating: 0xFF, count: 32)) == 0x62A8_AB43)
        #expect(CRC32C.checksum((0..<32).map { UInt8($0) }) == 0x46DD_794E)
    }

    @Test func updatingInPiecesEqualsOneChecksum() {
        let bytes = (0..<1000).map { UInt8(truncatingIfNeeded: $0 &* 31) }
        for split in [0, 1, 7, 8, 9, 500, 999, 1000] {
            let first = bytes[..<split].withUnsafeBytes { CRC32C.update(0, $0) }
            let whole = bytes[split...].withUnsafeBytes { CRC32C.update(first, $0) }
            #expect(whole == CRC32C.checksum(bytes), "split at \(split)")
        }
    }
}
