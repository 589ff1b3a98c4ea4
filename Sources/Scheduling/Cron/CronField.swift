/// One field of a cron expression; the raw value is the name used in error messages.
public enum CronField: String, Sendable, Hashable, CaseIterable, CustomStringConvertible {
    /// Seconds, 0-59 (only in six-field expressions, where it comes first).
    case second
    /// Minutes, 0-59.
    case minute
    /// Hours, 0-23.
    case hour
    /// Day of the month, 1-31, plus `L`, `L-n`, `nW`, `LW` and `?`.
    case dayOfMonth = "day-of-month"
    /// Month, 1-12 or `JAN`-`DEC`.
    case month
    /// Day of the week, 0-7 (0 and 7 are Sunday) or `SUN`-`SAT`, plus `nL`, `n#k` and `?`.
    case dayOfWeek = "day-of-week"

    /// The field's name as users see it, e.g. `day-of-week`.
    public var description: String { rawValue }
}
