/// RFC 3339 text for instants, as the API reads and writes them.
extension Instant {
    /// RFC 3339 in UTC with as many fraction digits as the instant needs (none, 3 or 6),
    /// e.g. `2026-12-01T09:00:00Z`, `2026-12-01T09:00:00.250Z`.
    public var rfc3339: String {
        let civil = CivilDateTime(secondsSinceEpoch: secondsSinceEpoch)
        guard (0...9999).contains(civil.year) else {
            // Outside RFC 3339's four-digit years: still readable, not RFC 3339.
            let micros = (microsecondsSinceEpoch % 1_000_000 + 1_000_000) % 1_000_000
            return civil.isoString + "." + String(micros).leftPadded(to: 6) + "Z"
        }
        let micros = Int((microsecondsSinceEpoch % 1_000_000 + 1_000_000) % 1_000_000)
        // Written digit by digit into the string's own storage: this runs for every instant
        // of every API response.
        return String(unsafeUninitializedCapacity: 27) { bytes in
            var count = 0
            func put(_ value: Int, digits: Int) {
                var value = value
                for offset in stride(from: digits - 1, through: 0, by: -1) {
                    bytes[count + offset] = UInt8(48 + value % 10)
                    value /= 10
                }
                count += digits
            }
            func put(_ byte: UInt8) {
                bytes[count] = byte
                count += 1
            }
            put(Int(civil.year), digits: 4)
            put(UInt8(ascii: "-"))
            put(civil.month, digits: 2)
            put(UInt8(ascii: "-"))
            put(civil.day, digits: 2)
            put(UInt8(ascii: "T"))
            put(civil.hour, digits: 2)
            put(UInt8(ascii: ":"))
            put(civil.minute, digits: 2)
            put(UInt8(ascii: ":"))
            put(civil.second, digits: 2)
            if micros != 0 {
                put(UInt8(ascii: "."))
                if micros % 1000 == 0 { put(micros / 1000, digits: 3) } else { put(micros, digits: 6) }
            }
            put(UInt8(ascii: "Z"))
            return count
        }
    }

    /// Parses RFC 3339 (`2026-12-01T09:00:00Z`, `2026-12-01T10:00:00.5+01:00`): a date, `T`
    /// (or `t` or a space), a time with up to 9 fraction digits (kept to the microsecond), and
    /// `Z` or a numeric offset. Nil for anything else, including impossible dates.
    public init?(rfc3339 text: String) {
        let bytes = Array(text.utf8)
        var index = 0
        func digits(_ count: Int) -> Int? {
            guard index + count <= bytes.count else { return nil }
            var value = 0
            for byte in bytes[index..<(index + count)] {
                guard byte >= 0x30 && byte <= 0x39 else { return nil }
                value = value * 10 + Int(byte - 0x30)
            }
            index += count
            return value
        }
        func expect(_ characters: String) -> Bool {
            guard index < bytes.count, characters.utf8.contains(bytes[index]) else { return false }
            index += 1
            return true
        }
        guard let year = digits(4), expect("-"), let month = digits(2), expect("-"), let day = digits(2),
            expect("Tt "), let hour = digits(2), expect(":"), let minute = digits(2), expect(":"),
            let second = digits(2)
        else { return nil }
        var micros = 0
        if index < bytes.count, bytes[index] == 0x2E {
            index += 1
            var count = 0
            while index < bytes.count, bytes[index] >= 0x30 && bytes[index] <= 0x39 {
                if count < 6 { micros = micros * 10 + Int(bytes[index] - 0x30) }
                count += 1
                index += 1
            }
            guard (1...9).contains(count) else { return nil }
            for _ in count..<6 { micros *= 10 }
        }
        var offsetSeconds = 0
        if expect("Zz") {
            // UTC
        } else if index < bytes.count, bytes[index] == 0x2B || bytes[index] == 0x2D {
            let sign = bytes[index] == 0x2D ? -1 : 1
            index += 1
            guard let offsetHours = digits(2), expect(":"), let offsetMinutes = digits(2),
                offsetHours < 24, offsetMinutes < 60
            else { return nil }
            offsetSeconds = sign * (offsetHours * 3600 + offsetMinutes * 60)
        } else {
            return nil
        }
        guard index == bytes.count, (1...12).contains(month), hour < 24, minute < 60, second < 60 else { return nil }
        let monthStart = CivilDateTime.days(year: Int64(year), month: month, day: 1)
        let nextMonthStart = month == 12
            ? CivilDateTime.days(year: Int64(year) + 1, month: 1, day: 1)
            : CivilDateTime.days(year: Int64(year), month: month + 1, day: 1)
        guard day >= 1, Int64(day) <= nextMonthStart - monthStart else { return nil }
        let seconds = (monthStart + Int64(day - 1)) * 86_400 + Int64(hour * 3600 + minute * 60 + second)
            - Int64(offsetSeconds)
        self.init(microsecondsSinceEpoch: seconds * 1_000_000 + Int64(micros))
    }
}
