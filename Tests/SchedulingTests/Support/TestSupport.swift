import Foundation

@testable import Scheduling

/// Parses `YYYY-MM-DDThh:mm:ss` followed by `Z` or `±hh:mm` into an instant.
func instant(_ text: String) -> Instant {
    let characters = Array(text)
    func number(_ start: Int, _ length: Int) -> Int {
        Int(String(characters[start..<start + length])) ?? -1
    }
    let civil = CivilDateTime(
        year: Int64(number(0, 4)), month: number(5, 2), day: number(8, 2),
        hour: number(11, 2), minute: number(14, 2), second: number(17, 2))
    var offset = 0
    if characters.count > 19, characters[19] != "Z" {
        let sign = characters[19] == "-" ? -1 : 1
        offset = sign * (number(20, 2) * 3_600 + number(23, 2) * 60)
    }
    return Instant(secondsSinceEpoch: civil.secondsSinceEpoch - Int64(offset))
}

/// Renders an instant as local time with its UTC offset in `zone`, e.g. `2026-03-08T03:00:00-04:00`,
/// using Foundation's offset (independent of the schedule's own zone table).
func local(_ value: Instant?, _ zone: String) -> String {
    guard let value else { return "nil" }
    guard let timeZone = TimeZone(identifier: zone) else { return "unknown zone \(zone)" }
    let offset = Int64(timeZone.secondsFromGMT(for: value.date))
    let civil = CivilDateTime(secondsSinceEpoch: value.secondsSinceEpoch + offset)
    let sign = offset < 0 ? "-" : "+"
    let magnitude = abs(offset)
    return civil.isoString + sign + String(magnitude / 3_600).leftPadded(to: 2) + ":"
        + String(magnitude / 60 % 60).leftPadded(to: 2)
}

/// A schedule for tests; test inputs are known to be valid.
func schedule(_ expression: String, _ zone: String = "UTC") throws -> CronSchedule {
    try CronSchedule(expression: CronExpression(expression), timeZoneIdentifier: zone)
}

/// The next `count` firings after `start`, as local times in the schedule's zone.
func firings(_ expression: String, _ zone: String = "UTC", after start: String, count: Int = 1) throws -> [String] {
    let schedule = try schedule(expression, zone)
    var cursor = instant(start)
    var result: [String] = []
    for _ in 0..<count {
        guard let next = schedule.next(after: cursor) else {
            result.append("nil")
            break
        }
        result.append(local(next, zone))
        cursor = next
    }
    return result
}
