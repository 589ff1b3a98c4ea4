/// Turns cron text into `CronRules`, reporting the first problem as a `CronParseError`.
enum CronParser {
    /// What each field accepts, used both for parsing and for error messages.
    private struct FieldSpec {
        let field: CronField
        let range: ClosedRange<Int>
        /// The highest value an open-ended step (`5/10`, `*/10`) runs to; Sunday is 0, not 7.
        let stepMaximum: Int
        let names: [String: Int]
        let allowed: String
    }

    private static let monthNames = [
        "JAN": 1, "FEB": 2, "MAR": 3, "APR": 4, "MAY": 5, "JUN": 6,
        "JUL": 7, "AUG": 8, "SEP": 9, "OCT": 10, "NOV": 11, "DEC": 12,
    ]
    private static let weekdayNames = ["SUN": 0, "MON": 1, "TUE": 2, "WED": 3, "THU": 4, "FRI": 5, "SAT": 6]

    private static let second = FieldSpec(
        field: .second, range: 0...59, stepMaximum: 59, names: [:], allowed: "0-59")
    private static let minute = FieldSpec(
        field: .minute, range: 0...59, stepMaximum: 59, names: [:], allowed: "0-59")
    private static let hour = FieldSpec(
        field: .hour, range: 0...23, stepMaximum: 23, names: [:], allowed: "0-23")
    private static let dayOfMonth = FieldSpec(
        field: .dayOfMonth, range: 1...31, stepMaximum: 31, names: [:],
        allowed: "1-31, L, L-n, nW, LW or ?")
    private static let month = FieldSpec(
        field: .month, range: 1...12, stepMaximum: 12, names: monthNames, allowed: "1-12 or JAN-DEC")
    private static let dayOfWeek = FieldSpec(
        field: .dayOfWeek, range: 0...7, stepMaximum: 6, names: weekdayNames,
        allowed: "0-7 (0 and 7 are Sunday), SUN-SAT, wL, w#k or ?")

    /// The supported macros and the five-field expressions they stand for.
    static let macros = [
        "@yearly": "0 0 1 1 *", "@annually": "0 0 1 1 *", "@monthly": "0 0 1 * *",
        "@weekly": "0 0 * * 0", "@daily": "0 0 * * *", "@midnight": "0 0 * * *", "@hourly": "0 * * * *",
    ]

    // MARK: - Expression

    /// Parses a whole expression or macro; also rejects expressions that can never fire.
    static func parse(_ text: String) throws(CronParseError) -> CronRules {
        var tokens = text.split(whereSeparator: { $0 == " " || $0 == "\t" || $0 == "\n" || $0 == "\r" })
            .map(String.init)
        if tokens.isEmpty {
            throw CronParseError(
                code: .emptyExpression, field: nil, text: text,
                message: "the expression is empty; write five fields such as \"*/15 * * * *\" or a macro such as \"@daily\"")
        }
        if tokens.count == 1, tokens[0].hasPrefix("@") {
            guard let expansion = macros[tokens[0].lowercased()] else {
                throw CronParseError(
                    code: .unknownMacro, field: nil, text: tokens[0],
                    message: "\"\(tokens[0])\" is not a known macro; use @yearly, @annually, @monthly, @weekly, @daily, @midnight or @hourly")
            }
            tokens = expansion.split(separator: " ").map(String.init)
        }
        guard tokens.count == 5 || tokens.count == 6 else {
            throw CronParseError(
                code: .wrongFieldCount, field: nil, text: text,
                message: "found \(tokens.count) field\(tokens.count == 1 ? "" : "s"); write 5 (minute hour day-of-month month day-of-week) or 6 (second first, then those 5)")
        }
        if tokens.count == 5 { tokens.insert("0", at: 0) }

        var rules = CronRules()
        rules.seconds = try parsePlainField(tokens[0], second)
        rules.minutes = try parsePlainField(tokens[1], minute)
        rules.hours = try parsePlainField(tokens[2], hour)
        try parseDayOfMonth(tokens[3], into: &rules)
        rules.months = try parsePlainField(tokens[4], month)
        try parseDayOfWeek(tokens[5], into: &rules)
        rules.hourIsWildcard = tokens[2].hasPrefix("*")
        rules.dayOfMonthRestricted = !(tokens[3].hasPrefix("*") || tokens[3].hasPrefix("?"))
        rules.dayOfWeekRestricted = !(tokens[5].hasPrefix("*") || tokens[5].hasPrefix("?"))
        rules.finish()

        guard rules.canFire else {
            let both = rules.dayOfMonthRestricted == rules.dayOfWeekRestricted
                ? "" : " together with day-of-week \"\(tokens[5])\""
            throw CronParseError(
                code: .impossibleDate, field: .dayOfMonth, text: tokens[3],
                message: "\"\(tokens[3])\"\(both) never occurs in month \"\(tokens[4])\"; choose days that exist in those months (29 February counts: it fires in leap years)")
        }
        return rules
    }

    // MARK: - Fields

    private static func parsePlainField(_ text: String, _ spec: FieldSpec) throws(CronParseError) -> UInt64 {
        var bits: UInt64 = 0
        for item in try listItems(text, spec) {
            bits |= try parseRangeItem(item, spec)
        }
        return bits
    }

    private static func parseDayOfMonth(_ text: String, into rules: inout CronRules) throws(CronParseError) {
        let spec = dayOfMonth
        for item in try listItems(text, spec) {
            let upper = item.uppercased()
            if upper == "L" {
                rules.lastDayOffsets |= 1
            } else if upper == "LW" {
                rules.lastWeekdayOfMonth = true
            } else if upper.hasPrefix("L-") {
                let offset = try number(String(item.dropFirst(2)), spec, whole: item)
                guard (0...30).contains(offset) else {
                    throw error(.outOfRange, spec, item, "\"\(item)\" is out of range; L-n counts back from the last day, n from 0 to 30")
                }
                rules.lastDayOffsets |= 1 << UInt64(offset)
            } else if upper.hasSuffix("W"), upper.count > 1 {
                let day = try number(String(item.dropLast()), spec, whole: item)
                guard spec.range.contains(day) else {
                    throw error(.outOfRange, spec, item, "\"\(item)\" is out of range; nW takes a day from 1 to 31")
                }
                rules.nearestWeekdays |= 1 << UInt64(day)
            } else {
                rules.daysOfMonth |= try parseRangeItem(item, spec)
            }
        }
    }

    private static func parseDayOfWeek(_ text: String, into rules: inout CronRules) throws(CronParseError) {
        let spec = dayOfWeek
        for item in try listItems(text, spec) {
            let upper = item.uppercased()
            if upper.contains("#") {
                let parts = item.split(separator: "#", omittingEmptySubsequences: false)
                guard parts.count == 2 else {
                    throw error(.badSyntax, spec, item, "\"\(item)\" is malformed; write w#k, e.g. 1#2 for the second Monday")
                }
                let weekday = try value(String(parts[0]), spec, whole: item) % 7
                let occurrence = try number(String(parts[1]), spec, whole: item)
                guard (1...5).contains(occurrence) else {
                    throw error(.outOfRange, spec, item, "\"\(item)\" is out of range; the number after # is the occurrence in the month, 1 to 5")
                }
                rules.nthWeekdays |= 1 << UInt64((occurrence - 1) * 7 + weekday)
            } else if upper.hasSuffix("L") {
                guard upper.count > 1 else {
                    throw error(.badSyntax, spec, item, "\"L\" needs a weekday in day-of-week; write e.g. 5L for the last Friday (L alone belongs in day-of-month)")
                }
                let weekday = try value(String(item.dropLast()), spec, whole: item) % 7
                rules.lastWeekdays |= 1 << UInt64(weekday)
            } else {
                let bits = try parseRangeItem(item, spec)
                // Fold 7 (Sunday) onto 0 so each weekday has one bit.
                rules.weekdays |= (bits & 0x7F) | (bits >> 7 & 1)
            }
        }
    }

    // MARK: - Items

    private static func listItems(_ text: String, _ spec: FieldSpec) throws(CronParseError) -> [String] {
        let items = text.split(separator: ",", omittingEmptySubsequences: false).map(String.init)
        for item in items where item.isEmpty {
            throw error(.badSyntax, spec, text, "\"\(text)\" has an empty list element; separate values with single commas, e.g. 1,15")
        }
        return items
    }

    /// `*`, `?`, `a`, `a-b`, each optionally followed by `/step`; `a/step` runs from a to the maximum.
    private static func parseRangeItem(_ item: String, _ spec: FieldSpec) throws(CronParseError) -> UInt64 {
        let parts = item.split(separator: "/", omittingEmptySubsequences: false).map(String.init)
        guard parts.count <= 2 else {
            throw error(.badStep, spec, item, "\"\(item)\" has more than one step; write one, e.g. */15 or 10-50/5")
        }
        var step = 1
        if parts.count == 2 {
            let span = spec.stepMaximum - spec.range.lowerBound + 1
            guard let parsed = Int(parts[1]), parts[1].allSatisfy(\.isASCIIDigit), (1...span).contains(parsed) else {
                throw error(.badStep, spec, item, "step \"\(parts[1])\" in \"\(item)\" is not allowed; a step is a whole number from 1 to \(span)")
            }
            step = parsed
        }
        let base = parts[0]
        let low: Int
        let high: Int
        if base == "*" || base == "?" {
            if base == "?", spec.field != .dayOfMonth, spec.field != .dayOfWeek {
                throw error(.badSyntax, spec, item, "\"?\" is only allowed in day-of-month and day-of-week; use * here")
            }
            low = spec.range.lowerBound
            high = spec.stepMaximum
        } else if base.contains("-") {
            let bounds = base.split(separator: "-", omittingEmptySubsequences: false).map(String.init)
            guard bounds.count == 2 else {
                throw error(.badRange, spec, item, "\"\(item)\" is not a range; write a-b with a no greater than b, e.g. 1-5")
            }
            low = try value(bounds[0], spec, whole: item)
            high = try value(bounds[1], spec, whole: item)
            guard low <= high else {
                throw error(.badRange, spec, item, "range \"\(base)\" starts after it ends; write the smaller value first (ranges do not wrap; use a list such as FRI-SAT,SUN-MON)")
            }
        } else {
            low = try value(base, spec, whole: item)
            high = parts.count == 2 ? max(low, spec.stepMaximum) : low
        }
        var bits: UInt64 = 0
        for bit in stride(from: low, through: high, by: step) { bits |= 1 << UInt64(bit) }
        return bits
    }

    /// A number or (where the field has them) a name, checked against the field's range.
    private static func value(_ text: String, _ spec: FieldSpec, whole item: String) throws(CronParseError) -> Int {
        if let named = spec.names[text.uppercased()] { return named }
        if !spec.names.isEmpty, !text.isEmpty, text.allSatisfy(\.isLetter) {
            throw error(.badName, spec, item, "\"\(text)\" is not a \(spec.field) name; use \(spec.allowed)")
        }
        let parsed = try number(text, spec, whole: item)
        guard spec.range.contains(parsed) else {
            throw error(.outOfRange, spec, item, "\"\(text)\" is out of range; use \(spec.allowed)")
        }
        return parsed
    }

    /// A non-negative decimal number (range checks are the caller's).
    private static func number(_ text: String, _ spec: FieldSpec, whole item: String) throws(CronParseError) -> Int {
        guard !text.isEmpty, text.allSatisfy(\.isASCIIDigit) else {
            throw error(.badNumber, spec, item, "\"\(text.isEmpty ? item : text)\" is not a number; use \(spec.allowed)")
        }
        // Long digit strings overflow Int; any of them is out of range anyway.
        guard text.count <= 6, let parsed = Int(text) else {
            throw error(.outOfRange, spec, item, "\"\(text)\" is out of range; use \(spec.allowed)")
        }
        return parsed
    }

    private static func error(
        _ code: CronParseError.Code, _ spec: FieldSpec, _ text: String, _ message: String
    ) -> CronParseError {
        CronParseError(code: code, field: spec.field, text: text, message: message)
    }
}
