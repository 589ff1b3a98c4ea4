import Scheduling

/// Durations as the API writes them: `"500ms"`, `"30s"`, `"5m"`, `"1h30m"`, `"1.5s"`.
public enum DurationText {
    private static let units: [(suffix: String, microseconds: Int64)] = [
        ("ms", 1000), ("us", 1), ("µs", 1), ("h", 3_600_000_000), ("m", 60_000_000), ("s", 1_000_000), ("d", 86_400_000_000),
    ]

    /// Parses a sequence of `<number><unit>` (units `d h m s ms us`), or nil.
    public static func parse(_ text: String) -> Duration? {
        var rest = Substring(text)
        guard !rest.isEmpty, rest.count <= 64 else { return nil }
        var total: Double = 0
        while !rest.isEmpty {
            let number = rest.prefix { $0.isASCII && ($0.isNumber || $0 == ".") }
            guard !number.isEmpty, let value = Double(number) else { return nil }
            rest = rest.dropFirst(number.count)
            guard let unit = units.first(where: { rest.hasPrefix($0.suffix) }) else { return nil }
            rest = rest.dropFirst(unit.suffix.count)
            total += value * Double(unit.microseconds)
        }
        guard total.isFinite, total < 1e17 else { return nil }
        return .microseconds(Int64(total.rounded()))
    }

    /// The shortest text ``parse`` reads back to the same duration, e.g. `1h30m`, `1s500ms`.
    public static func format(_ duration: Duration) -> String {
        var micros = duration.wholeMicroseconds
        if micros == 0 { return "0s" }
        var text = micros < 0 ? "-" : ""
        micros = micros.magnitude > Int64.max.magnitude ? Int64.max : abs(micros)
        for (suffix, size) in [("h", Int64(3_600_000_000)), ("m", 60_000_000), ("s", 1_000_000), ("ms", 1000), ("us", 1)] {
            let count = micros / size
            if count > 0 { text += "\(count)\(suffix)" }
            micros -= count * size
        }
        return text
    }
}
