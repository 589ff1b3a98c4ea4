/// A proleptic-Gregorian wall-clock date and time with no zone attached.
///
/// Cron matching happens on wall-clock time; doing the calendar arithmetic here (instead of
/// Foundation `Calendar`, which is slow on Linux) keeps `next(after:)` in the microsecond range.
/// "Local seconds" below means seconds since 1970-01-01T00:00:00 on the wall clock.
struct CivilDateTime: Hashable, Sendable {
    var year: Int64
    var month: Int
    var day: Int
    var hour: Int
    var minute: Int
    var second: Int

    init(year: Int64, month: Int, day: Int, hour: Int = 0, minute: Int = 0, second: Int = 0) {
        self.year = year
        self.month = month
        self.day = day
        self.hour = hour
        self.minute = minute
        self.second = second
    }

    /// Splits local seconds into calendar fields.
    init(secondsSinceEpoch seconds: Int64) {
        let days = seconds.floorDivided(by: 86_400)
        let secondOfDay = Int(seconds - days * 86_400)
        let (year, month, day) = CivilDateTime.civil(fromDays: days)
        self.init(
            year: year, month: month, day: day,
            hour: secondOfDay / 3_600, minute: secondOfDay / 60 % 60, second: secondOfDay % 60
        )
    }

    /// Local seconds for these fields; fields are assumed to be in range.
    var secondsSinceEpoch: Int64 {
        CivilDateTime.days(year: year, month: month, day: day) * 86_400
            + Int64(hour * 3_600 + minute * 60 + second)
    }

    /// `YYYY-MM-DDThh:mm:ss`, used in descriptions and test messages.
    var isoString: String {
        String(year).leftPadded(to: 4) + "-" + String(month).leftPadded(to: 2) + "-"
            + String(day).leftPadded(to: 2) + "T" + String(hour).leftPadded(to: 2) + ":"
            + String(minute).leftPadded(to: 2) + ":" + String(second).leftPadded(to: 2)
    }

    // MARK: - Calendar arithmetic

    /// Days since 1970-01-01 for a civil date (the era-based days-from-civil algorithm).
    static func days(year: Int64, month: Int, day: Int) -> Int64 {
        let y = month <= 2 ? year - 1 : year
        let era = y.floorDivided(by: 400)
        let yearOfEra = y - era * 400
        let m = Int64(month)
        let dayOfYear = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + Int64(day) - 1
        let dayOfEra = yearOfEra * 365 + yearOfEra / 4 - yearOfEra / 100 + dayOfYear
        return era * 146_097 + dayOfEra - 719_468
    }

    /// The civil date for a count of days since 1970-01-01 (inverse of `days(year:month:day:)`).
    static func civil(fromDays days: Int64) -> (year: Int64, month: Int, day: Int) {
        let z = days + 719_468
        let era = z.floorDivided(by: 146_097)
        let dayOfEra = z - era * 146_097
        let yearOfEra = (dayOfEra - dayOfEra / 1_460 + dayOfEra / 36_524 - dayOfEra / 146_096) / 365
        let dayOfYear = dayOfEra - (365 * yearOfEra + yearOfEra / 4 - yearOfEra / 100)
        let mp = (5 * dayOfYear + 2) / 153
        let day = Int(dayOfYear - (153 * mp + 2) / 5 + 1)
        let month = Int(mp < 10 ? mp + 3 : mp - 9)
        let year = yearOfEra + era * 400 + (month <= 2 ? 1 : 0)
        return (year, month, day)
    }

    /// Whether `year` has a 29 February.
    static func isLeapYear(_ year: Int64) -> Bool {
        year % 4 == 0 && (year % 100 != 0 || year % 400 == 0)
    }

    /// The number of days in a month of a year.
    static func daysInMonth(year: Int64, month: Int) -> Int {
        switch month {
        case 2: return isLeapYear(year) ? 29 : 28
        case 4, 6, 9, 11: return 30
        default: return 31
        }
    }

    /// Day of the week for a day count, 0 = Sunday … 6 = Saturday (1970-01-01 was a Thursday).
    static func weekday(ofDays days: Int64) -> Int {
        Int((days + 4) - (days + 4).floorDivided(by: 7) * 7)
    }
}
