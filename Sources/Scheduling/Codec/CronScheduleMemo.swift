import Synchronization

/// Cron schedules already parsed while decoding, by zone and expression text.
///
/// A memo, not state: a schedule is a pure function of its text and zone, so sharing one
/// cannot change any result. Replaying a journal where a million tasks share a handful of
/// expressions then parses each expression once, not once per event.
enum CronScheduleMemo {
    private static let parsed = Mutex<[String: CronSchedule]>([:])

    /// The most schedules kept; past it the memo starts again (expressions are few in
    /// practice, so this only bounds a pathological journal).
    static let capacity = 4096

    /// The schedule for `source` in `zone`, parsing it on first use.
    static func schedule(source: String, zone: String) throws -> CronSchedule {
        let key = zone + "\u{0}" + source
        if let cached = parsed.withLock({ $0[key] }) { return cached }
        let schedule = try CronSchedule(expression: CronExpression(source), timeZoneIdentifier: zone)
        parsed.withLock { table in
            if table.count >= capacity { table.removeAll(keepingCapacity: true) }
            table[key] = schedule
        }
        return schedule
    }
}
