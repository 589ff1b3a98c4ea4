// Measures the cost of `CronSchedule.next(after:)` for common expressions in a release build.
//
//     swift build -c release --product bench-cron && .build/release/bench-cron
//
// Each run is chained (every result is the next input), so the figure includes the real mix of
// short and long jumps an occurrence stream produces.
import Foundation
import Scheduling

struct Case {
    let expression: String
    let zone: String
}

let cases = [
    Case(expression: "*/15 * * * *", zone: "UTC"),
    Case(expression: "*/15 * * * *", zone: "America/New_York"),
    Case(expression: "0 30 2 * * *", zone: "Europe/Lisbon"),
    Case(expression: "0 0 9 ? * MON-FRI", zone: "UTC"),
    Case(expression: "0 0 9 ? * MON-FRI", zone: "America/New_York"),
    Case(expression: "0 0 L * *", zone: "UTC"),
    Case(expression: "0 0 L * *", zone: "Australia/Lord_Howe"),
    Case(expression: "0 0 29 2 *", zone: "Europe/Lisbon"),
    Case(expression: "0 0 12 15W * ?", zone: "Asia/Kolkata"),
    Case(expression: "30 2 * * 5L", zone: "America/New_York"),
    // Worst case: a fifth Monday in February happens every 28-40 years.
    Case(expression: "0 0 * 2 1#5", zone: "America/New_York"),
]

let iterations = CommandLine.arguments.count > 1 ? Int(CommandLine.arguments[1]) ?? 200_000 : 200_000
let clock = ContinuousClock()
let start = Instant(secondsSinceEpoch: 1_767_225_600)  // 2026-01-01T00:00:00Z

print("iterations per case: \(iterations)")

// One-off cost: the first schedule in a zone builds that zone's transition table.
do {
    let expression = try CronExpression("@daily")
    let elapsed = try clock.measure {
        _ = try CronSchedule(expression: expression, timeZoneIdentifier: "Pacific/Auckland")
    }
    print("first schedule in a new zone (builds its table): \(elapsed)")
} catch {
    print("zone table measurement failed: \(error)")
}
for benchCase in cases {
    let schedule: CronSchedule
    do {
        schedule = try CronSchedule(
            expression: try CronExpression(benchCase.expression), timeZoneIdentifier: benchCase.zone)
    } catch {
        print("\(benchCase.expression) [\(benchCase.zone)]: \(error)")
        continue
    }
    // Warm up: builds the zone table and faults in code.
    var cursor = start
    for _ in 0..<1_000 { cursor = schedule.next(after: cursor) ?? start }

    var best = Duration.seconds(1_000)
    var last = start
    for _ in 0..<3 {
        cursor = start
        let elapsed = clock.measure {
            for _ in 0..<iterations {
                // Wrap around before the zone table ends so long runs of rare expressions keep going.
                cursor = schedule.next(after: cursor) ?? start
            }
        }
        last = cursor
        best = min(best, elapsed)
    }
    let nanoseconds = Double(best.components.seconds) * 1e9 + Double(best.components.attoseconds) / 1e9
    let perCall = nanoseconds / Double(iterations)
    let name = "\(benchCase.expression) [\(benchCase.zone)]"
    print(name.padding(toLength: 48, withPad: " ", startingAt: 0), String(format: "%8.1f ns/call", perCall), " last: \(last)")
}
