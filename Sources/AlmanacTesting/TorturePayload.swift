public import Journal

/// The deterministic payloads the crash test writes and checks: the same (stream, version)
/// always gives the same bytes, of a length between 0 and 1,535.
public enum TorturePayload {
    /// The payload for `version` of `stream`.
    public static func bytes(stream: StreamID, version: UInt64) -> [UInt8] {
        var state = UInt64(truncatingIfNeeded: stream.rawValue.hashValueStable) ^ (version &* 0x9E37_79B9_7F4A_7C15)
        let length = Int(state % 1536)
        var bytes = [UInt8]()
        bytes.reserveCapacity(length)
        for _ in 0..<length {
            state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
            bytes.append(UInt8(truncatingIfNeeded: state >> 56))
        }
        return bytes
    }
}

extension String {
    /// FNV-1a over the UTF-8 bytes: stable across processes, unlike `hashValue`.
    var hashValueStable: UInt64 {
        utf8.reduce(0xCBF2_9CE4_8422_2325) { ($0 ^ UInt64($1)) &* 0x100_0000_01B3 }
    }
}
