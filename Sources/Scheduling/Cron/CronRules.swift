/// The parsed form of a cron expression: one bitset per field plus the day-of-month and
/// day-of-week specials, and the wall-clock search that walks them field by field.
///
/// Bit `n` of a field set means value `n` matches. Everything a month's matching days depend on
/// is its length and the weekday of its first day, which is what makes both the search and the
/// "can this ever fire?" check cheap.
struct CronRules: Sendable, Hashable {
    var seconds: UInt64 = 0
    var minutes: UInt64 = 0
    var hours: UInt64 = 0
    /// Plain days of the month, bits 1-31.
    var daysOfMonth: UInt64 = 0
    /// `L-n`: bit `n` set means "n days before the last day" (`L` is bit 0).
    var lastDayOffsets: UInt64 = 0
    /// `nW`: bit `n` set means "the weekday nearest the n-th".
    var nearestWeekdays: UInt64 = 0
    /// `LW`: the last weekday (Monday-Friday) of the month.
    var lastWeekdayOfMonth = false
    var months: UInt64 = 0
    /// Plain days of the week, bits 0-6 (0 = Sunday).
    var weekdays: UInt64 = 0
    /// `wL`: bit `w` set means "the last such weekday of the month".
    var lastWeekdays: UInt64 = 0
    /// `w#k`: bit `(k - 1) * 7 + w` set means "the k-th such weekday of the month".
    var nthWeekdays: UInt64 = 0
    /// Whether day-of-month does not start with `*` or `?` (the Vixie cron test for the OR rule).
    var dayOfMonthRestricted = false
    /// Whether day-of-week does not start with `*` or `?`.
    var dayOfWeekRestricted = false
    /// Whether the hour field is `*` or `*/n`: such expressions follow elapsed time across DST
    /// changes, all others are treated as fixed local times.
    var hourIsWildcard = false

    /// `weekdays` repeated every 7 bits, so a month's weekday days are one shift away.
    private(set) var weekdayPattern: UInt64 = 0

    /// Fills in derived state once all fields are parsed.
    mutating func finish() {
        var pattern: UInt64 = 0
        for weekday in 0..<7 where weekdays & (1 << weekday) != 0 {
            for bit in stride(from: weekday, to: 64, by: 7) { pattern |= 1 << bit }
        }
        weekdayPattern = pattern
    }

    // MARK: - Day matching

    /// The matching days (bits 1-31) of a month with `lastDay` days whose 1st is `firstWeekday`.
    func dayMask(lastDay: Int, firstWeekday: Int) -> UInt64 {
        let valid: UInt64 = ((1 << UInt64(lastDay + 1)) - 1) & ~1
        var byDay = daysOfMonth
        if lastDayOffsets != 0 {
            forEachBit(lastDayOffsets) { offset in
                if lastDay - offset >= 1 { byDay |= 1 << UInt64(lastDay - offset) }
            }
        }
        if nearestWeekdays != 0 {
            forEachBit(nearestWeekdays) { day in
                byDay |= 1 << UInt64(nearestWeekday(to: day, lastDay: lastDay, firstWeekday: firstWeekday))
            }
        }
        if lastWeekdayOfMonth {
            byDay |= 1 << UInt64(nearestWeekday(to: lastDay, lastDay: lastDay, firstWeekday: firstWeekday))
        }
        byDay &= valid

        var byWeekday = ((weekdayPattern >> UInt64(firstWeekday)) << 1) & valid
        if lastWeekdays != 0 {
            let lastWeekday = (firstWeekday + lastDay - 1) % 7
            forEachBit(lastWeekdays) { weekday in
                byWeekday |= 1 << UInt64(lastDay - (lastWeekday - weekday + 7) % 7)
            }
        }
        if nthWeekdays != 0 {
            forEachBit(nthWeekdays) { bit in
                let weekday = bit % 7
                let day = 1 + (weekday - firstWeekday + 7) % 7 + 7 * (bit / 7)
                if day <= lastDay { byWeekday |= 1 << UInt64(day) }
            }
        }
        // Vixie cron: when both day fields are restricted a day matches if either does.
        return dayOfMonthRestricted && dayOfWeekRestricted ? byDay | byWeekday : byDay & byWeekday
    }

    /// The Monday-Friday day nearest `day` without leaving the month; a `day` past the month's
    /// end is clamped to the last day first (so `31W` means the last weekday in 30-day months).
    private func nearestWeekday(to day: Int, lastDay: Int, firstWeekday: Int) -> Int {
        let target = min(day, lastDay)
        switch (firstWeekday + target - 1) % 7 {
        case 6: return target > 1 ? target - 1 : target + 2  // Saturday: Friday, or Monday the 3rd
        case 0: return target < lastDay ? target + 1 : target - 2  // Sunday: Monday, or Friday
        default: return target
        }
    }

    /// Whether any month in `months` has a matching day in some year.
    ///
    /// A month's matching days depend only on its length and the weekday of its 1st, and every
    /// (month, length, first weekday) combination occurs in the 400-year Gregorian cycle.
    var canFire: Bool {
        for month in 1...12 where months & (1 << UInt64(month)) != 0 {
            let lengths = month == 2 ? [28, 29] : [CivilDateTime.daysInMonth(year: 2001, month: month)]
            for lastDay in lengths {
                for firstWeekday in 0..<7 where dayMask(lastDay: lastDay, firstWeekday: firstWeekday) != 0 {
                    return true
                }
            }
        }
        return false
    }

    // MARK: - Wall-clock search

    /// The first wall-clock second at or after `start` (local seconds) that matches, searching
    /// no further than the end of `lastYear`.
    ///
    /// Advances the largest field that fails and resets the smaller ones, so the cost is a few
    /// steps per field rather than one per minute.
    func firstMatch(onOrAfter start: Int64, lastYear: Int64) -> Int64? {
        let civil = CivilDateTime(secondsSinceEpoch: start)
        var year = civil.year
        var month = civil.month
        var day = civil.day
        var hour = civil.hour
        var minute = civil.minute
        var second = civil.second
        var maskYear = Int64.min
        var maskMonth = 0
        var mask: UInt64 = 0
        var monthStartDays: Int64 = 0

        while year <= lastYear {
            if months & (1 << UInt64(month)) == 0 {
                if let next = lowestBit(months, from: month) {
                    month = next
                } else {
                    year += 1
                    month = lowestBit(months, from: 1) ?? 1
                }
                day = 1; hour = 0; minute = 0; second = 0
                continue
            }
            if year != maskYear || month != maskMonth {
                monthStartDays = CivilDateTime.days(year: year, month: month, day: 1)
                mask = dayMask(
                    lastDay: CivilDateTime.daysInMonth(year: year, month: month),
                    firstWeekday: CivilDateTime.weekday(ofDays: monthStartDays)
                )
                maskYear = year
                maskMonth = month
            }
            guard let nextDay = lowestBit(mask, from: day) else {
                month += 1
                if month > 12 { month = 1; year += 1 }
                day = 1; hour = 0; minute = 0; second = 0
                continue
            }
            if nextDay != day { day = nextDay; hour = 0; minute = 0; second = 0 }
            guard let nextHour = lowestBit(hours, from: hour) else {
                day += 1; hour = 0; minute = 0; second = 0
                continue
            }
            if nextHour != hour { hour = nextHour; minute = 0; second = 0 }
            guard let nextMinute = lowestBit(minutes, from: minute) else {
                hour += 1; minute = 0; second = 0
                continue
            }
            if nextMinute != minute { minute = nextMinute; second = 0 }
            guard let nextSecond = lowestBit(seconds, from: second) else {
                minute += 1; second = 0
                continue
            }
            return (monthStartDays + Int64(day - 1)) * 86_400
                + Int64(hour * 3_600 + minute * 60 + nextSecond)
        }
        return nil
    }
}

/// The lowest set bit of `mask` at position `from` or above.
@inline(__always)
func lowestBit(_ mask: UInt64, from position: Int) -> Int? {
    guard position < 64 else { return nil }
    let remaining = mask & (~UInt64(0) << UInt64(position))
    return remaining == 0 ? nil : remaining.trailingZeroBitCount
}

/// Calls `body` with the position of every set bit, lowest first.
@inline(__always)
func forEachBit(_ mask: UInt64, _ body: (Int) -> Void) {
    var remaining = mask
    while remaining != 0 {
        body(remaining.trailingZeroBitCount)
        remaining &= remaining - 1
    }
}
