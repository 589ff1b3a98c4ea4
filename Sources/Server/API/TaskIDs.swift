#if canImport(Glibc)
import Glibc
#endif
import Scheduling
import Synchronization

/// Ids for new tasks.
enum TaskIDs {
    private static let alphabet = Array("0123456789abcdefghjkmnpqrstvwxyz".utf8)

    /// A new id: `t` + the creation millisecond (10 characters, so ids sort by creation) + 16
    /// random characters.
    static func generate(at now: Instant) -> TaskID {
        var text: [UInt8] = [UInt8(ascii: "t")]
        let millis = UInt64(max(0, now.microsecondsSinceEpoch / 1000))
        for shift in stride(from: 45, through: 0, by: -5) { text.append(alphabet[Int((millis >> UInt64(shift)) & 31)]) }
        var bits = randomWords.next()  // 80 of these 128 bits are used
        for index in 0..<16 {
            if index == 8 { bits.0 = bits.1 }
            text.append(alphabet[Int(bits.0 & 31)])
            bits.0 >>= 5
        }
        return TaskID(String(decoding: text, as: UTF8.self))
    }

    private static let randomWords = RandomWords()

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

/// Random words from the kernel (`/dev/urandom`), read 4 KiB at a time: a `getrandom` call
/// per word was 1.3 % of the server's time under `POST /v1/tasks`, the system call most of
/// it. The bytes are the kernel's, only read in larger pieces; where the device cannot be
/// read, the standard library's generator fills in.
final class RandomWords: Sendable {
    private struct Pool {
        var words = [UInt64](repeating: 0, count: 512)
        var next = 512
    }

    private let pool = Mutex(Pool())

    /// Two words not handed out before.
    func next() -> (UInt64, UInt64) {
        pool.withLock { pool in
            if pool.next + 2 > pool.words.count {
                Self.fill(&pool.words)
                pool.next = 0
            }
            defer { pool.next += 2 }
            return (pool.words[pool.next], pool.words[pool.next + 1])
        }
    }

    private static func fill(_ words: inout [UInt64]) {
        var filled = 0
        #if canImport(Glibc)
        let file = open("/dev/urandom", O_RDONLY | O_CLOEXEC)
        if file >= 0 {
            defer { close(file) }
            words.withUnsafeMutableBytes { bytes in
                while filled < bytes.count {
                    let count = read(file, bytes.baseAddress! + filled, bytes.count - filled)
                    if count <= 0 { break }  // interrupted or unavailable: the generator below
                    filled += count
                }
            }
        }
        #endif
        guard filled < words.count * 8 else { return }
        var generator = SystemRandomNumberGenerator()
        for index in (filled / 8)..<words.count { words[index] = generator.next() }
    }
}
