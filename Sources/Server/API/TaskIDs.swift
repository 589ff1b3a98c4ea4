import Scheduling

/// Ids for new tasks.
enum TaskIDs {
    private static let alphabet = Array("0123456789abcdefghjkmnpqrstvwxyz".utf8)

    /// A new id: `t` + the creation millisecond (10 characters, so ids sort by creation) + 16
    /// random characters.
    static func generate(at now: Instant) -> TaskID {
        var text: [UInt8] = [UInt8(ascii: "t")]
        let millis = UInt64(max(0, now.microsecondsSinceEpoch / 1000))
        for shift in stride(from: 45, through: 0, by: -5) { text.append(alphabet[Int((millis >> UInt64(shift)) & 31)]) }
        var random = SystemRandomNumberGenerator()
        var bits = (random.next() as UInt64, random.next() as UInt64)  // 80 of these 128 bits are used
        for index in 0..<16 {
            if index == 8 { bits.0 = bits.1 }
            text.append(alphabet[Int(bits.0 & 31)])
            bits.0 >>= 5
        }
        return TaskID(String(decoding: text, as: UTF8.self))
    }

    /// The id a create with this `Idempotency-Key` gets: `k` + 32 hex digits of two 64-bit
    /// FNV-1a hashes of the key. A retried create therefore lands on the same task, across
    /// restarts, with nothing stored besides the task itself.
    static func derived(fromIdempotencyKey key: String) -> TaskID {
        func fnv(_ seed: UInt64) -> UInt64 {
            var hash = seed
            for byte in key.utf8 { hash = (hash ^ UInt64(byte)) &* 0x100_0000_01B3 }
            return hash
        }
        func hex(_ value: UInt64) -> String {
            let text = String(value, radix: 16)
            return String(repeating: "0", count: 16 - text.count) + text
        }
        return TaskID("k" + hex(fnv(0xCBF2_9CE4_8422_2325)) + hex(fnv(0x84222325_CBF29CE4)))
    }
}
