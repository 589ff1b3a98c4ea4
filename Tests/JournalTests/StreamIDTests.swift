import Testing

@testable import Journal

/// Stream ids are equal, and hash alike, exactly when their UTF-8 bytes are the same.
@Suite("Stream ids")
struct StreamIDTests {
    @Test func idsAreEqualExactlyWhenTheirBytesAre() {
        let base = "task-01JD7Q8ZK2M4N6P8R0T2V4X6Y8"
        var ids = [StreamID(base), StreamID("é"), StreamID("e\u{301}"), StreamID("short"), StreamID("")]
        for offset in base.utf8.indices.prefix(30) {
            var bytes = Array(base.utf8)
            bytes[base.utf8.distance(from: base.utf8.startIndex, to: offset)] ^= 0x01
            ids.append(StreamID(String(decoding: bytes, as: UTF8.self)))
        }
        ids.append(StreamID(base + "x"))
        ids.append(StreamID(String(base.dropLast())))
        for (i, left) in ids.enumerated() {
            for (j, right) in ids.enumerated() {
                #expect((left == right) == (i == j), "\(left) against \(right)")
            }
        }
        // Equal ids made separately (one a substring's copy, one bridged through an array)
        // are equal and hash alike; the set keeps one of each.
        let again = StreamID(String(Substring(base)))
        let rebuilt = StreamID(String(decoding: Array(base.utf8), as: UTF8.self))
        #expect(again == ids[0] && rebuilt == ids[0])
        #expect(again.hashValue == ids[0].hashValue && rebuilt.hashValue == ids[0].hashValue)
        #expect(Set(ids + [again, rebuilt]).count == ids.count)
    }
}
