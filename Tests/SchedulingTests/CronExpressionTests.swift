import Testing

@testable import Scheduling

/// The set bits of a mask, for readable expectations.
private func values(_ mask: UInt64) -> [Int] {
    (0..<64).filter { mask & (1 << UInt64($0)) != 0 }
}

@Suite("CronExpression parsing")
struct CronExpressionTests {
    // MARK: - Syntax

    @Test("five fields get a zero second; six fields put the second first")
    func fieldCounts() throws {
        let five = try CronExpression("1 2 3 4 5").rules
        #expect(values(five.seconds) == [0])
        #expect(values(five.minutes) == [1])
        #expect(values(five.hours) == [2])
        #expect(values(five.daysOfMonth) == [3])
        #expect(values(five.months) == [4])
        #expect(values(five.weekdays) == [5])

        let six = try CronExpression("9 1 2 3 4 5").rules
        #expect(values(six.seconds) == [9])
        #expect(values(six.minutes) == [1])
        #expect(values(six.weekdays) == [5])
    }

    @Test("the source is kept exactly and extra whitespace is ignored")
    func source() throws {
        let expression = try CronExpression("  */5\t*  * * *  ")
        #expect(expression.source == "  */5\t*  * * *  ")
        #expect(values(expression.rules.minutes) == [0, 5, 10, 15, 20, 25, 30, 35, 40, 45, 50, 55])
    }

    @Test("wildcards, ranges, steps and lists")
    func rangesStepsLists() throws {
        #expect(values(try CronExpression("* * * * *").rules.minutes) == Array(0...59))
        #expect(values(try CronExpression("*/15 * * * *").rules.minutes) == [0, 15, 30, 45])
        #expect(values(try CronExpression("10-50/5 * * * *").rules.minutes) == Array(stride(from: 10, through: 50, by: 5)))
        #expect(values(try CronExpression("5/10 * * * *").rules.minutes) == [5, 15, 25, 35, 45, 55])
        #expect(values(try CronExpression("1,2,30-32 * * * *").rules.minutes) == [1, 2, 30, 31, 32])
        #expect(values(try CronExpression("0 */5 * * *").rules.hours) == [0, 5, 10, 15, 20])
        #expect(values(try CronExpression("0 0 */10 * *").rules.daysOfMonth) == [1, 11, 21, 31])
        #expect(values(try CronExpression("0 0 1 */5 *").rules.months) == [1, 6, 11])
        #expect(values(try CronExpression("0 0 * * */2").rules.weekdays) == [0, 2, 4, 6])
        #expect(values(try CronExpression("*/20 * * * * *").rules.seconds) == [0, 20, 40])
    }

    @Test("month and weekday names in any case, also in ranges")
    func names() throws {
        #expect(values(try CronExpression("0 0 1 jan,Mar,DEC *").rules.months) == [1, 3, 12])
        #expect(values(try CronExpression("0 0 1 FEB-apr *").rules.months) == [2, 3, 4])
        #expect(values(try CronExpression("0 0 * * MON-FRI").rules.weekdays) == [1, 2, 3, 4, 5])
        #expect(values(try CronExpression("0 0 * * sun,Sat").rules.weekdays) == [0, 6])
    }

    @Test("0 and 7 are both Sunday")
    func sunday() throws {
        #expect(values(try CronExpression("0 0 * * 7").rules.weekdays) == [0])
        #expect(values(try CronExpression("0 0 * * 0").rules.weekdays) == [0])
        #expect(values(try CronExpression("0 0 * * 5-7").rules.weekdays) == [0, 5, 6])
        #expect(values(try CronExpression("0 0 * * 7L").rules.lastWeekdays) == [0])
        #expect(values(try CronExpression("0 0 * * 7#1").rules.nthWeekdays) == [0])
    }

    @Test("? is * in the day fields")
    func questionMark() throws {
        let dom = try CronExpression("0 0 9 ? * MON").rules
        #expect(!dom.dayOfMonthRestricted)
        #expect(dom.dayOfWeekRestricted)
        let dow = try CronExpression("0 0 15 * ?").rules
        #expect(dow.dayOfMonthRestricted)
        #expect(!dow.dayOfWeekRestricted)
    }

    @Test("day-of-month specials: L, L-n, nW, LW")
    func dayOfMonthSpecials() throws {
        #expect(values(try CronExpression("0 0 L * *").rules.lastDayOffsets) == [0])
        #expect(values(try CronExpression("0 0 L-3 * *").rules.lastDayOffsets) == [3])
        #expect(values(try CronExpression("0 0 1,l,L-2 * *").rules.lastDayOffsets) == [0, 2])
        #expect(values(try CronExpression("0 0 15W * *").rules.nearestWeekdays) == [15])
        #expect(try CronExpression("0 0 LW * *").rules.lastWeekdayOfMonth)
        #expect(try CronExpression("0 0 lw * *").rules.lastWeekdayOfMonth)
    }

    @Test("day-of-week specials: wL and w#k, with numbers or names")
    func dayOfWeekSpecials() throws {
        #expect(values(try CronExpression("0 0 * * 5L").rules.lastWeekdays) == [5])
        #expect(values(try CronExpression("0 0 * * FRIL").rules.lastWeekdays) == [5])
        #expect(values(try CronExpression("0 0 * * 1#2").rules.nthWeekdays) == [7 + 1])
        #expect(values(try CronExpression("0 0 * * MON#2,fri#5").rules.nthWeekdays) == [7 + 1, 28 + 5])
    }

    @Test("macros expand to their five-field forms")
    func macros() throws {
        let pairs = [
            ("@yearly", "0 0 1 1 *"), ("@annually", "0 0 1 1 *"), ("@monthly", "0 0 1 * *"),
            ("@weekly", "0 0 * * 0"), ("@daily", "0 0 * * *"), ("@midnight", "0 0 * * *"),
            ("@hourly", "0 * * * *"), ("@DAILY", "0 0 * * *"),
        ]
        for (macro, expansion) in pairs {
            #expect(try CronExpression(macro).rules == CronExpression(expansion).rules, "\(macro)")
        }
    }

    @Test("restriction follows the first character of each day field (Vixie cron)")
    func restriction() throws {
        let star = try CronExpression("0 0 */2 * MON").rules
        #expect(!star.dayOfMonthRestricted)
        #expect(star.dayOfWeekRestricted)
        let both = try CronExpression("0 0 1-31 * MON").rules
        #expect(both.dayOfMonthRestricted && both.dayOfWeekRestricted)
    }

    @Test("hour fields starting with * follow elapsed time; all others are fixed times")
    func elapsedTime() throws {
        #expect(try CronExpression("0 * * * *").followsElapsedTime)
        #expect(try CronExpression("0 */2 * * *").followsElapsedTime)
        #expect(try CronExpression("0 0 * * * *").followsElapsedTime)
        #expect(try !CronExpression("30 2 * * *").followsElapsedTime)
        #expect(try !CronExpression("30 1,2 * * *").followsElapsedTime)
        #expect(try !CronExpression("30 1-3 * * *").followsElapsedTime)
        #expect(try !CronExpression("30 0/2 * * *").followsElapsedTime)
        #expect(try !CronExpression("@daily").followsElapsedTime)
    }

    @Test("29 February and 31st-in-some-month are valid")
    func possibleDates() throws {
        _ = try CronExpression("0 0 29 2 *")
        _ = try CronExpression("0 0 31 1-12 *")
        _ = try CronExpression("0 0 30 2 MON")  // OR rule: every Monday in February
        _ = try CronExpression("0 0 31W 4 *")  // clamped to the last weekday of April
        _ = try CronExpression("0 0 * 2 1#5")  // a fifth Monday in February: leap years only
        _ = try CronExpression("0 0 L-28 2 *")  // 1 February in leap years
    }

    // MARK: - Errors

    struct Rejection: CustomTestStringConvertible, Sendable {
        let text: String
        let code: CronParseError.Code
        let field: CronField?
        let mentions: String
        var testDescription: String { text.isEmpty ? "(empty)" : text }
    }

    static let rejections: [Rejection] = [
        Rejection(text: "", code: .emptyExpression, field: nil, mentions: "empty"),
        Rejection(text: "   ", code: .emptyExpression, field: nil, mentions: "empty"),
        Rejection(text: "* * * *", code: .wrongFieldCount, field: nil, mentions: "found 4 fields"),
        Rejection(text: "* * * * * * *", code: .wrongFieldCount, field: nil, mentions: "found 7 fields"),
        Rejection(text: "@reboot", code: .unknownMacro, field: nil, mentions: "@hourly"),
        Rejection(text: "@fortnightly", code: .unknownMacro, field: nil, mentions: "@fortnightly"),
        Rejection(text: "x * * * *", code: .badNumber, field: .minute, mentions: "0-59"),
        Rejection(text: "1.5 * * * *", code: .badNumber, field: .minute, mentions: "\"1.5\""),
        Rejection(text: "-1 * * * *", code: .badNumber, field: .minute, mentions: "not a number"),
        Rejection(text: "60 * * * *", code: .outOfRange, field: .minute, mentions: "0-59"),
        Rejection(text: "0 24 * * *", code: .outOfRange, field: .hour, mentions: "0-23"),
        Rejection(text: "0 0 0 * *", code: .outOfRange, field: .dayOfMonth, mentions: "1-31"),
        Rejection(text: "0 0 32 * *", code: .outOfRange, field: .dayOfMonth, mentions: "1-31"),
        Rejection(text: "0 0 * 13 *", code: .outOfRange, field: .month, mentions: "JAN-DEC"),
        Rejection(text: "0 0 * * 8", code: .outOfRange, field: .dayOfWeek, mentions: "0-7"),
        Rejection(text: "60 0 0 * * *", code: .outOfRange, field: .second, mentions: "0-59"),
        Rejection(text: "0 0 * * 99999999999999999999", code: .outOfRange, field: .dayOfWeek, mentions: "0-7"),
        Rejection(text: "0 0 * FOO *", code: .badName, field: .month, mentions: "JAN-DEC"),
        Rejection(text: "0 0 * * FUN", code: .badName, field: .dayOfWeek, mentions: "SUN-SAT"),
        Rejection(text: "0 0 * JUL-MON *", code: .badName, field: .month, mentions: "\"MON\""),
        Rejection(text: "0 0 * * JAN", code: .badName, field: .dayOfWeek, mentions: "SUN-SAT"),
        Rejection(text: "*/0 * * * *", code: .badStep, field: .minute, mentions: "1 to 60"),
        Rejection(text: "*/61 * * * *", code: .badStep, field: .minute, mentions: "1 to 60"),
        Rejection(text: "*/x * * * *", code: .badStep, field: .minute, mentions: "\"x\""),
        Rejection(text: "0 */25 * * *", code: .badStep, field: .hour, mentions: "1 to 24"),
        Rejection(text: "*/5/2 * * * *", code: .badStep, field: .minute, mentions: "more than one step"),
        Rejection(text: "0 0 * * */8", code: .badStep, field: .dayOfWeek, mentions: "1 to 7"),
        Rejection(text: "50-10 * * * *", code: .badRange, field: .minute, mentions: "starts after it ends"),
        Rejection(text: "0 0 * * FRI-MON", code: .badRange, field: .dayOfWeek, mentions: "do not wrap"),
        Rejection(text: "1-2-3 * * * *", code: .badRange, field: .minute, mentions: "not a range"),
        Rejection(text: "1,,2 * * * *", code: .badSyntax, field: .minute, mentions: "empty list element"),
        Rejection(text: "? * * * *", code: .badSyntax, field: .minute, mentions: "only allowed in day-of-month and day-of-week"),
        Rejection(text: "0 0 * * L", code: .badSyntax, field: .dayOfWeek, mentions: "5L"),
        Rejection(text: "0 0 * * 1#6", code: .outOfRange, field: .dayOfWeek, mentions: "1 to 5"),
        Rejection(text: "0 0 * * 1#0", code: .outOfRange, field: .dayOfWeek, mentions: "1 to 5"),
        Rejection(text: "0 0 * * 1#2#3", code: .badSyntax, field: .dayOfWeek, mentions: "w#k"),
        Rejection(text: "0 0 * * 9#2", code: .outOfRange, field: .dayOfWeek, mentions: "0-7"),
        Rejection(text: "0 0 L-31 * *", code: .outOfRange, field: .dayOfMonth, mentions: "0 to 30"),
        Rejection(text: "0 0 32W * *", code: .outOfRange, field: .dayOfMonth, mentions: "1 to 31"),
        Rejection(text: "0 0 L-x * *", code: .badNumber, field: .dayOfMonth, mentions: "\"x\""),
        Rejection(text: "0 0 30 2 *", code: .impossibleDate, field: .dayOfMonth, mentions: "never occurs"),
        Rejection(text: "0 0 31 4 *", code: .impossibleDate, field: .dayOfMonth, mentions: "never occurs"),
        Rejection(text: "0 0 31 2,4,6,9,11 *", code: .impossibleDate, field: .dayOfMonth, mentions: "never occurs"),
        Rejection(text: "0 0 30,31 FEB ?", code: .impossibleDate, field: .dayOfMonth, mentions: "never occurs"),
        Rejection(text: "0 0 L-29 2 *", code: .impossibleDate, field: .dayOfMonth, mentions: "never occurs"),
        Rejection(text: "0 0 */30 * 1#2", code: .impossibleDate, field: .dayOfMonth, mentions: "together with day-of-week"),
    ]

    @Test("rejects malformed expressions, naming the field and what is allowed", arguments: rejections)
    func rejects(_ rejection: Rejection) {
        do {
            let parsed = try CronExpression(rejection.text)
            Issue.record("accepted \"\(rejection.text)\" as \(parsed.rules)")
        } catch {
            #expect(error.code == rejection.code, "\(error)")
            #expect(error.field == rejection.field, "\(error)")
            #expect(error.description.contains(rejection.mentions), "\(error)")
            if let field = rejection.field {
                #expect(error.description.hasPrefix("\(field.rawValue): "), "\(error)")
            }
        }
    }

    @Test("error descriptions read as instructions")
    func errorDescription() {
        do {
            _ = try CronExpression("0 0 * * 8")
            Issue.record("accepted")
        } catch {
            #expect(error.text == "8")
            #expect(error.description == "day-of-week: \"8\" is out of range; use 0-7 (0 and 7 are Sunday), SUN-SAT, wL, w#k or ?")
        }
    }
}
