// bench-replay: how fast the projections are rebuilt from a real LMDB journal, how fast a
// server starts from a snapshot, and how much memory each task costs.
//
//   swift build -c release --product bench-replay
//   .build/release/bench-replay [--tasks N] [--dir DIR] [--keep] [--tail EVENTS] [--seed S]
//
// With no `--phase` it runs everything and prints one markdown report on stdout (progress
// goes to stderr):
//
// 1. generate  N tasks driven through the real decider on a simulated clock (~10 events each)
//              and appended in large batches;
// 2. replay    `Replay.build` over the whole journal, then the same work by hand with the
//              read, payload-decode and fold stages timed separately;
// 3. snapshot  make and save a snapshot, append a tail, then start cold from the snapshot
//              (in this process, and in fresh processes with a warm and an evicted page cache);
// 4. memory    a fresh process (`--phase memory`) builds the projection and reports the
//              growth of its resident memory per task.
//
// `--phase startup` and `--phase memory` run one measurement on an existing journal in `--dir`.
// Like `almanac serve`, every phase keeps glibc's mmap threshold fixed
// (`ProcessMemory.mapLargeBlocks()`); `BENCH_DEFAULT_MALLOC=1` leaves glibc's default, to
// compare.
// Domain time is simulated (`Instant`s advanced by the generator); only the benchmark's own
// timings read a clock (`ContinuousClock`).
import AlmanacTesting
import Foundation
import Glibc
import Journal
import Projections
import Scheduling

// MARK: - Options

/// The command line.
struct Options {
    /// What one invocation measures.
    enum Phase: String {
        /// Generate, replay and snapshot here, then memory (and fresh start-ups) in child processes.
        case all
        /// Build the projection of the journal in `--dir` and report resident memory per task.
        case memory
        /// Open the journal in `--dir` and start from its snapshot, timed.
        case startup
        /// Replay the journal in `--dir` in full, then again with each stage timed.
        case replay
    }

    var tasks = 1_000_000
    var eventsPerTask = 10
    var tailEvents = 100_000
    var batchEvents = 16_384
    var directory: String?
    var keep = false
    var phase = Phase.all
    var evictPageCache = false
    var mapSizeGiB = 64
    var seed: UInt64 = 0xA1_4A_4A_C0

    static let usage = """
        usage: bench-replay [--tasks N] [--events-per-task K] [--tail EVENTS] [--batch EVENTS]
                            [--dir DIR] [--keep] [--map-size GiB] [--seed S]
               bench-replay --phase memory --dir DIR
               bench-replay --phase startup --dir DIR [--evict]
               bench-replay --phase replay --dir DIR
        """

    /// Parses the arguments; nil (after printing the usage) when they are wrong.
    static func parse(_ arguments: [String]) -> Options? {
        var options = Options()
        var iterator = arguments.dropFirst().makeIterator()
        func integer(_ name: String) -> Int? {
            guard let text = iterator.next(), let value = Int(text.replacingOccurrences(of: "_", with: "")), value > 0 else {
                printError("\(name) needs a positive integer")
                return nil
            }
            return value
        }
        while let argument = iterator.next() {
            switch argument {
            case "--tasks": guard let value = integer(argument) else { return nil }; options.tasks = value
            case "--events-per-task": guard let value = integer(argument) else { return nil }; options.eventsPerTask = value
            case "--tail": guard let value = integer(argument) else { return nil }; options.tailEvents = value
            case "--batch": guard let value = integer(argument) else { return nil }; options.batchEvents = value
            case "--map-size": guard let value = integer(argument) else { return nil }; options.mapSizeGiB = value
            case "--seed": guard let value = integer(argument) else { return nil }; options.seed = UInt64(value)
            case "--dir": options.directory = iterator.next()
            case "--keep": options.keep = true
            case "--evict": options.evictPageCache = true
            case "--phase":
                guard let value = iterator.next().flatMap(Phase.init(rawValue:)) else {
                    printError("--phase is all, memory, startup or replay")
                    return nil
                }
                options.phase = value
            default:
                printError(usage)
                return nil
            }
        }
        if options.phase != .all && options.directory == nil {
            printError("--phase \(options.phase.rawValue) needs --dir with an existing journal")
            return nil
        }
        return options
    }

    /// The journal configuration every phase opens with: a large map (the file grows only as
    /// used), everything else the server's defaults.
    func configuration(readOnly: Bool = false) -> LMDBJournal.Configuration {
        LMDBJournal.Configuration(mapSize: mapSizeGiB << 30, readOnly: readOnly)
    }
}

// MARK: - Small utilities

/// A failure that ends the benchmark with a message.
struct BenchError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}

/// Writes a line to standard error (progress and failures; the report goes to stdout).
func printError(_ text: String) {
    FileHandle.standardError.write(Data((text + "\n").utf8))
}

/// The one clock the benchmark reads: for its own timings, never for domain time.
let clock = ContinuousClock()

/// A duration in seconds.
func seconds(_ duration: Duration) -> Double {
    Double(duration.components.seconds) + Double(duration.components.attoseconds) / 1e18
}

/// Runs `body` and returns its result with the seconds it took.
func measure<T>(_ body: () async throws -> T) async rethrows -> (value: T, seconds: Double) {
    let start = clock.now
    let value = try await body()
    return (value, seconds(clock.now - start))
}

/// An integer with thousands separators: 10,000,000.
func grouped(_ value: Int) -> String {
    let digits = String(value.magnitude)
    var result = ""
    for (index, character) in digits.enumerated() {
        if index > 0 && (digits.count - index) % 3 == 0 { result.append(",") }
        result.append(character)
    }
    return value < 0 ? "-" + result : result
}

/// A number with a fixed count of decimals.
func fixed(_ value: Double, _ decimals: Int = 2) -> String { String(format: "%.\(decimals)f", value) }

/// A byte count in MiB.
func mebibytes(_ bytes: Int) -> String { fixed(Double(bytes) / 1_048_576, 1) + " MiB" }

/// Events per second, grouped.
func rate(_ count: Int, _ seconds: Double) -> String { grouped(Int(Double(count) / max(seconds, 1e-9))) }

/// Memory figures of this process from `/proc/self/status`, in bytes.
struct ResidentMemory {
    /// All resident pages (`VmRSS`).
    var total = 0
    /// Resident anonymous pages: the heap (`RssAnon`).
    var anonymous = 0
    /// Resident file-backed pages, such as the journal's memory map (`RssFile`).
    var file = 0

    /// Reads the current figures.
    static func current() throws -> ResidentMemory {
        let status: String
        do {
            status = try String(contentsOfFile: "/proc/self/status", encoding: .utf8)
        } catch {
            throw BenchError("cannot read /proc/self/status: \(error)")
        }
        var memory = ResidentMemory()
        for line in status.split(separator: "\n") {
            let fields = line.split(whereSeparator: { $0 == " " || $0 == "\t" })
            guard fields.count >= 2, let kibibytes = Int(fields[1]) else { continue }
            switch fields[0] {
            case "VmRSS:": memory.total = kibibytes * 1024
            case "RssAnon:": memory.anonymous = kibibytes * 1024
            case "RssFile:": memory.file = kibibytes * 1024
            default: break
            }
        }
        guard memory.total > 0 else { throw BenchError("/proc/self/status has no VmRSS line") }
        return memory
    }
}

/// Asks glibc to return freed heap memory to the system (`malloc_trim(0)`), if it can be found.
func trimMallocHeap() -> Bool {
    typealias Trim = @convention(c) (Int) -> Int32
    guard let symbol = dlsym(UnsafeMutableRawPointer(bitPattern: 0), "malloc_trim") else { return false }
    _ = unsafeBitCast(symbol, to: Trim.self)(0)
    return true
}

/// The size of a file in bytes, or nil when it cannot be read.
func fileSize(_ path: String) -> Int? {
    var info = stat()
    return stat(path, &info) == 0 ? Int(info.st_size) : nil
}

/// Drops a file's clean pages from the page cache (`posix_fadvise(DONTNEED)`), so the next
/// reader pays for the disk; the file must not be mapped by anyone at the time.
func evictFromPageCache(_ path: String) -> Bool {
    let descriptor = open(path, O_RDONLY)
    guard descriptor >= 0 else { return false }
    defer { close(descriptor) }
    return posix_fadvise(descriptor, 0, 0, Int32(POSIX_FADV_DONTNEED)) == 0
}

/// The markdown report, collected as the phases run and printed at the end.
struct Report {
    private(set) var lines: [String] = []

    mutating func add(_ line: String = "") {
        lines.append(line)
        printError("  " + line)
    }

    /// Adds a table.
    mutating func table(_ header: [String], _ rows: [[String]]) {
        add("| " + header.joined(separator: " | ") + " |")
        add("|" + header.map { _ in "---" }.joined(separator: "|") + "|")
        for row in rows { add("| " + row.joined(separator: " | ") + " |") }
        add()
    }

    /// Adds lines produced elsewhere (a child process's report).
    mutating func include(_ text: String) {
        for line in text.split(separator: "\n", omittingEmptySubsequences: false) { add(String(line)) }
    }

    var text: String { lines.joined(separator: "\n") }
}

// MARK: - Task definitions

/// Makes realistic task definitions: cron `0 */5 * * * *` in a few IANA zones, fixed
/// intervals of 60 s to 3600 s, and one-time tasks; webhooks to a local discard port.
struct DefinitionFactory {
    static let zones = ["UTC", "Europe/Berlin", "America/New_York", "Asia/Tokyo", "Australia/Sydney", "America/Sao_Paulo"]
    static let teams = ["billing", "search", "ops", "growth"]

    /// One parsed schedule per zone (a stored definition holds its own copy, as after decoding).
    let cronSchedules: [CronSchedule]

    init() throws {
        var schedules: [CronSchedule] = []
        for zone in Self.zones {
            schedules.append(try CronSchedule(expression: CronExpression("0 */5 * * * *"), timeZoneIdentifier: zone))
        }
        cronSchedules = schedules
    }

    /// The definition of task number `number`, created at `now`: 45 % cron, 45 % interval,
    /// 10 % one-time.
    func definition(number: Int, now: Instant, random: inout SeededRandom) -> TaskDefinition {
        let schedule: Schedule
        switch number % 20 {
        case 0..<9:
            schedule = Schedule(.cron(cronSchedules[Int.random(in: 0..<cronSchedules.count, using: &random)]))
        case 9..<18:
            let every = Duration.seconds(Int64.random(in: 60...3600, using: &random))
            let anchor = Instant(secondsSinceEpoch: now.secondsSinceEpoch)
            schedule = Schedule(.interval(every: every, anchor: anchor))
        default:
            schedule = Schedule(.once(now + .seconds(Int64.random(in: 30...7200, using: &random))))
        }
        var headers: [WebhookAction.Header] = []
        var body: String?
        if random.chance(0.5) {
            headers = [.init(name: "Content-Type", value: "application/json")]
            body = #"{"task":"{{taskId}}","run":"{{runId}}"}"#
        }
        return TaskDefinition(
            name: "hook \(number)",
            description: random.chance(0.3) ? "benchmark task \(number)" : "",
            labels: random.chance(0.5) ? ["team": Self.teams[number % Self.teams.count]] : [:],
            schedule: schedule,
            action: WebhookAction(
                url: "http://127.0.0.1:9/hook/\(number)",
                headers: headers,
                body: body,
                timeout: .seconds(random.chance(0.5) ? 10 : 30)
            ),
            retry: RetryPolicy(
                maxAttempts: Int.random(in: 1...3, using: &random),
                initialBackoff: .seconds(Int64.random(in: 1...30, using: &random))
            ),
            overlap: random.chance(0.25) ? .forbid : .allow,
            misfire: random.chance(0.8) ? .runOnce : .skip
        )
    }
}

// MARK: - Driving tasks through the decider

/// One task as the generator drives it: the state its own events made.
struct SimulatedTask {
    let number: Int
    let id: TaskID
    var state: TaskState?
}

/// A decision's events, ready to append under the task's expected version.
struct Decision {
    let request: AppendRequest
    let eventCount: Int
}

/// Decides commands with the real `TaskDecider` and keeps each task's state by applying the
/// events it decides, exactly as a server would between journal round trips.
struct Scheduler {
    var random: SeededRandom
    let definitions: DefinitionFactory
    let eventsPerTask: Int
    /// Commands the decider refused (none are expected).
    private(set) var refusals = 0
    private(set) var firstRefusal: String?

    init(seed: UInt64, eventsPerTask: Int) throws {
        random = SeededRandom(seed: seed)
        definitions = try DefinitionFactory()
        self.eventsPerTask = eventsPerTask
    }

    /// Registers the task at `now`.
    mutating func create(_ task: inout SimulatedTask, now: Instant) -> Decision? {
        let definition = definitions.definition(number: task.number, now: now, random: &random)
        return decide(.createTask(definition), actor: "bench-admin", task: &task, now: now)
    }

    /// The earliest attempt the task has waiting (a pending retry or its next occurrence).
    func earliestDue(_ state: TaskState) -> (occurrence: OccurrenceID, dueAt: Instant, scheduledFirst: Bool)? {
        var best: (occurrence: OccurrenceID, dueAt: Instant, scheduledFirst: Bool)?
        if state.status == .active, let next = state.nextDueAt {
            best = (.scheduled(state.id, at: next), next, true)
        }
        for pending in state.pending.values where best.map({ pending.dueAt < $0.dueAt }) ?? true {
            best = (pending.occurrence, pending.dueAt, false)
        }
        return best
    }

    /// Claims (or, now and then, skips) the earliest due attempt at `now`.
    mutating func claim(_ task: inout SimulatedTask, now: Instant) -> Decision? {
        guard let state = task.state, let due = earliestDue(state) else { return nil }
        if due.scheduledFirst && random.chance(0.06) {
            return decide(.skipOccurrence(due.occurrence, .misfire), actor: "scheduler", task: &task, now: now)
        }
        return decide(.startRun(due.occurrence), actor: "scheduler", task: &task, now: now)
    }

    /// Finishes the run in flight: 80 % succeed, the rest fail (and are retried while
    /// attempts remain).
    mutating func finish(_ task: inout SimulatedTask, now: Instant) -> Decision? {
        guard let run = task.state?.inFlight.values.min(by: { $0.run < $1.run }) else { return nil }
        let milliseconds = Int64.random(in: 40...1500, using: &random)
        if random.chance(0.8) {
            let outcome = RunOutcome(statusCode: 200, duration: .milliseconds(milliseconds), responseExcerpt: #"{"ok":true}"#)
            return decide(.completeRun(run.run, outcome), actor: "scheduler", task: &task, now: now)
        }
        let outcome = random.chance(0.5)
            ? RunOutcome(statusCode: 503, duration: .milliseconds(milliseconds), responseExcerpt: "upstream unavailable", error: "HTTP 503")
            : RunOutcome(duration: .milliseconds(milliseconds), error: "connection refused (127.0.0.1:9)")
        return decide(.failRun(run.run, outcome), actor: "scheduler", task: &task, now: now)
    }

    /// Takes the task's next step at `now` and says when the one after is due (nil: the
    /// task has had its first few occurrences, or has none left).
    mutating func step(_ task: inout SimulatedTask, now: Instant) -> (decision: Decision?, nextAt: Instant?) {
        guard let state = task.state else {
            let decision = create(&task, now: now)
            return (decision, nextAction(task, now: now))
        }
        if !state.inFlight.isEmpty {
            let decision = finish(&task, now: now)
            return (decision, nextAction(task, now: now))
        }
        guard state.version < UInt64(eventsPerTask) else { return (nil, nil) }
        let decision = claim(&task, now: now)
        guard decision != nil else { return (nil, nil) }
        return (decision, nextAction(task, now: now))
    }

    /// When the task next needs the scheduler: the end of its run in flight, or its next due
    /// attempt plus a little claim latency.
    private mutating func nextAction(_ task: SimulatedTask, now: Instant) -> Instant? {
        guard let state = task.state else { return nil }
        if !state.inFlight.isEmpty { return now + .milliseconds(Int64.random(in: 40...1500, using: &random)) }
        guard state.version < UInt64(eventsPerTask), let due = earliestDue(state) else { return nil }
        return max(now, due.dueAt + .milliseconds(Int64.random(in: 1...300, using: &random)))
    }

    /// Decides `action`, applies its events to the task's state, and encodes them as one
    /// append request under the version the decision was made on.
    mutating func decide(_ action: TaskCommand.Action, actor: String, task: inout SimulatedTask, now: Instant) -> Decision? {
        let command = TaskCommand(taskID: task.id, actor: actor, action: action)
        let events: [TaskEvent]
        do {
            events = try TaskDecider.decide(command, state: task.state, now: now)
        } catch {
            refusals += 1
            if firstRefusal == nil { firstRefusal = error.description }
            return nil
        }
        guard !events.isEmpty else { return nil }
        let expected: ExpectedVersion = task.state.map { .exactly($0.version) } ?? .noStream
        var state = task.state.take()
        for event in events {
            if var current = state.take() {
                current.apply(event)
                state = current
            } else {
                state = TaskState.evolve(nil, event)
            }
        }
        task.state = state
        let request = AppendRequest(
            streamID: StreamID(task.id.rawValue),
            expectedVersion: expected,
            events: events.map(Self.proposed)
        )
        return Decision(request: request, eventCount: events.count)
    }

    /// The journal form of an event, through the domain's codec.
    static func proposed(_ event: TaskEvent) -> ProposedEvent {
        let encoded = EventCodec.encode(event)
        return ProposedEvent(
            type: encoded.type,
            schemaVersion: encoded.schemaVersion,
            recordedAt: event.at.microsecondsSinceEpoch,
            payload: encoded.payload
        )
    }
}

// MARK: - Appending in batches

/// Appends requests in large batches (many tasks' requests per call), keeping one batch in
/// flight on the journal's writer thread while the next one is being decided.
struct BatchAppender {
    let journal: LMDBJournal
    let batchEvents: Int
    private var requests: [AppendRequest] = []
    private var pendingEvents = 0
    private var inFlight: Task<[Result<AppendResult, JournalError>], Never>?
    private(set) var appendedEvents = 0
    /// Events queued or sent so far.
    var decidedEvents: Int { appendedEvents + pendingEvents }
    private(set) var calls = 0
    private(set) var failures = 0
    private(set) var firstFailure: String?

    init(journal: LMDBJournal, batchEvents: Int) {
        self.journal = journal
        self.batchEvents = batchEvents
    }

    /// Queues a decision's request; sends the batch once it holds `batchEvents` events.
    mutating func add(_ decision: Decision) async {
        requests.append(decision.request)
        pendingEvents += decision.eventCount
        if pendingEvents >= batchEvents { await send() }
    }

    /// Waits for the batch in flight, then sends the queued one. Requests of one task keep
    /// their order: batches are submitted one after another, and a batch's requests are
    /// applied in order, so each expected version is the one the previous request made.
    mutating func send() async {
        await settle()
        guard !requests.isEmpty else { return }
        let batch = requests
        let journal = self.journal
        appendedEvents += pendingEvents
        calls += 1
        requests = []
        requests.reserveCapacity(batch.count)
        pendingEvents = 0
        inFlight = Task { await journal.append(batch) }
    }

    /// Sends what is queued and waits for every append to be durable.
    mutating func finish() async {
        await send()
        await settle()
    }

    /// Waits for the batch in flight and counts its failures.
    private mutating func settle() async {
        guard let task = inFlight else { return }
        inFlight = nil
        for result in await task.value {
            if case .failure(let error) = result {
                failures += 1
                if firstFailure == nil { firstFailure = error.description }
            }
        }
    }
}

// MARK: - Generation

/// A min-heap of (instant, task slot): the generator's event loop.
struct ActionQueue {
    private var items: [(at: Int64, slot: Int32)] = []

    var isEmpty: Bool { items.isEmpty }

    private static func precedes(_ a: (at: Int64, slot: Int32), _ b: (at: Int64, slot: Int32)) -> Bool {
        a.at != b.at ? a.at < b.at : a.slot < b.slot
    }

    mutating func push(_ at: Instant, slot: Int) {
        items.append((at.microsecondsSinceEpoch, Int32(slot)))
        var child = items.count - 1
        while child > 0 {
            let parent = (child - 1) / 2
            guard Self.precedes(items[child], items[parent]) else { break }
            items.swapAt(child, parent)
            child = parent
        }
    }

    mutating func popMin() -> (at: Instant, slot: Int)? {
        guard let top = items.first else { return nil }
        let last = items.removeLast()
        if !items.isEmpty {
            items[0] = last
            var parent = 0
            while true {
                let left = 2 * parent + 1
                guard left < items.count else { break }
                let right = left + 1
                let child = right < items.count && Self.precedes(items[right], items[left]) ? right : left
                guard Self.precedes(items[child], items[parent]) else { break }
                items.swapAt(child, parent)
                parent = child
            }
        }
        return (Instant(microsecondsSinceEpoch: top.at), Int(top.slot))
    }
}

/// What generation produced.
struct GenerationResult {
    var tasks = 0
    var events = 0
    var seconds = 0.0
    var appendCalls = 0
    /// The simulated clock when the last event was decided.
    var simulatedEnd = Instant(microsecondsSinceEpoch: 0)
    var simulatedStart = Instant(microsecondsSinceEpoch: 0)
}

/// The simulated instant the journal starts at: 2026-01-05T00:00:00Z.
let simulationStart = Instant(secondsSinceEpoch: 1_767_571_200)

/// Generates the journal: tasks in cohorts of 16,384, each cohort created over one simulated
/// minute and driven event by event in simulated-time order (so streams interleave in the
/// journal as they would on a server), until each task has about `eventsPerTask` events.
func generate(journal: LMDBJournal, options: Options) async throws -> GenerationResult {
    var scheduler = try Scheduler(seed: options.seed, eventsPerTask: options.eventsPerTask)
    var appender = BatchAppender(journal: journal, batchEvents: options.batchEvents)
    let digits = max(7, String(options.tasks).count)
    let cohortSize = 16_384
    var now = simulationStart
    var result = GenerationResult(simulatedStart: now)
    let start = clock.now
    var nextProgress = 0
    for cohortStart in stride(from: 0, to: options.tasks, by: cohortSize) {
        let count = min(cohortSize, options.tasks - cohortStart)
        var tasks = (0..<count).map { offset in
            let number = cohortStart + offset + 1
            return SimulatedTask(number: number, id: TaskID("task-" + String(number).leftPadded(digits)), state: nil)
        }
        var queue = ActionQueue()
        let spacing = Duration.microseconds(60_000_000 / Int64(count))
        for slot in 0..<count { queue.push(now + spacing * slot, slot: slot) }
        while let (at, slot) = queue.popMin() {
            now = max(now, at)
            let (decision, nextAt) = scheduler.step(&tasks[slot], now: now)
            if let decision { await appender.add(decision) }
            if let nextAt { queue.push(nextAt, slot: slot) }
        }
        if cohortStart + count >= nextProgress {
            printError("generate: \(grouped(cohortStart + count)) tasks, \(grouped(appender.appendedEvents)) events, \(fixed(seconds(clock.now - start), 1)) s")
            nextProgress += max(options.tasks / 10, 1)
        }
    }
    await appender.finish()
    result.seconds = seconds(clock.now - start)
    guard appender.failures == 0 else {
        throw BenchError("\(appender.failures) appends failed; first: \(appender.firstFailure ?? "?")")
    }
    if scheduler.refusals > 0 {
        printError("warning: the decider refused \(scheduler.refusals) commands; first: \(scheduler.firstRefusal ?? "?")")
    }
    result.tasks = options.tasks
    result.events = appender.appendedEvents
    result.appendCalls = appender.calls
    result.simulatedEnd = now
    return result
}

extension String {
    /// The string padded with leading zeros to `width` characters.
    func leftPadded(_ width: Int) -> String {
        count >= width ? self : String(repeating: "0", count: width - count) + self
    }
}

// MARK: - Replay

/// Where a hand-made replay spent its time.
struct StagedReplay {
    var projection = Projection()
    var events = 0
    /// `journal.readEvents` in batches of 4,096: LMDB cursor, segment checks, envelope
    /// decoding and copying (and freeing the previous batch).
    var read = 0.0
    /// `EventCodec.decode` of every payload.
    var decode = 0.0
    /// `Projection.apply(_:position:streamVersion:)`: tasks, run log, due index.
    var fold = 0.0
    var total = 0.0
}

/// Replays the journal by hand, with each stage of `Replay.build` timed on its own.
func stagedReplay(journal: LMDBJournal, batchSize: Int = 4096) throws -> StagedReplay {
    var result = StagedReplay()
    var decoded: [TaskEvent] = []
    decoded.reserveCapacity(batchSize)
    var position: UInt64 = 0
    let start = clock.now
    var mark = start
    /// Seconds since the previous lap.
    func lap() -> Double {
        let now = clock.now
        defer { mark = now }
        return seconds(now - mark)
    }
    while true {
        let batch = try journal.readEvents(after: position, limit: batchSize)
        result.read += lap()
        guard let last = batch.last else { break }
        decoded.removeAll(keepingCapacity: true)
        for recorded in batch {
            decoded.append(try EventCodec.decode(
                type: recorded.type,
                schemaVersion: recorded.schemaVersion,
                payload: recorded.payload,
                taskID: TaskID(recorded.streamID.rawValue),
                at: Instant(microsecondsSinceEpoch: recorded.recordedAt)
            ))
        }
        result.decode += lap()
        for (recorded, event) in zip(batch, decoded) {
            result.projection.apply(event, position: recorded.position, streamVersion: recorded.streamVersion)
        }
        result.fold += lap()
        result.events += batch.count
        position = last.position
    }
    result.total = seconds(clock.now - start)
    return result
}

/// Counts of the projection's parts.
struct ProjectionCensus {
    var tasks = 0
    var active = 0
    var completed = 0
    var runRecords = 0
    var pending = 0
    var inFlight = 0
    var dueLive = 0
    var dueStored = 0

    init(_ projection: Projection) {
        tasks = projection.tasks.count
        for state in projection.tasks.values {
            if state.status == .active { active += 1 }
            if state.status == .completed { completed += 1 }
            pending += state.pending.count
            inFlight += state.inFlight.count
        }
        runRecords = projection.runLog.recordCount
        dueLive = projection.dueIndex.liveCount
        dueStored = projection.dueIndex.storedCount
    }
}

// MARK: - Snapshot and tail

/// Appends about `target` events as the scheduler would after the generation: claims the
/// attempts the projection says are due, earliest first, and completes or fails each.
func appendTail(
    journal: LMDBJournal,
    projection: Projection,
    now start: Instant,
    target: Int,
    options: Options
) async throws -> (events: Int, seconds: Double) {
    var scheduler = try Scheduler(seed: options.seed &+ 1, eventsPerTask: Int.max)
    var appender = BatchAppender(journal: journal, batchEvents: options.batchEvents)
    var index = projection
    var touched: [TaskID: SimulatedTask] = [:]
    var now = start
    let began = clock.now
    var dueEntries = index.due(at: now, limit: target).makeIterator()
    while appender.decidedEvents < target, let entry = dueEntries.next() {
        var task = touched[entry.taskID]
            ?? SimulatedTask(number: 0, id: entry.taskID, state: projection.tasks[entry.taskID])
        now = now + .milliseconds(1)
        if let decision = scheduler.decide(.startRun(entry.occurrence), actor: "scheduler", task: &task, now: now) {
            await appender.add(decision)
        }
        if let decision = scheduler.finish(&task, now: now + .milliseconds(250)) {
            await appender.add(decision)
        }
        touched[entry.taskID] = task
    }
    await appender.finish()
    guard appender.failures == 0 else {
        throw BenchError("\(appender.failures) tail appends failed; first: \(appender.firstFailure ?? "?")")
    }
    return (appender.appendedEvents, seconds(clock.now - began))
}

/// What one cold start from the snapshot measured.
struct StartupResult {
    var openSeconds = 0.0
    var readySeconds = 0.0
    var snapshotPosition: UInt64?
    var position: UInt64 = 0
    var tasks = 0
    var digest = ""
}

/// Opens the journal fresh and starts from its newest snapshot: the server's start-up.
func coldStart(directory: String, options: Options) async throws -> (StartupResult, Projection) {
    var result = StartupResult()
    let start = clock.now
    let journal = try LMDBJournal(directory: directory, configuration: options.configuration())
    result.openSeconds = seconds(clock.now - start)
    let (projection, used) = try await Replay.fromSnapshot(of: journal)
    result.readySeconds = seconds(clock.now - start)
    journal.close()
    result.snapshotPosition = used
    result.position = projection.position
    result.tasks = projection.tasks.count
    return (result, projection)
}

/// The stages of a snapshot start, timed one by one (for the report's breakdown).
func stagedStart(directory: String, options: Options) async throws -> [(String, Double)] {
    var stages: [(String, Double)] = []
    var mark = clock.now
    func lap(_ name: String) {
        let now = clock.now
        stages.append((name, seconds(now - mark)))
        mark = now
    }
    let journal = try LMDBJournal(directory: directory, configuration: options.configuration())
    lap("open the journal")
    guard let stored = try await journal.latestSnapshot(atOrBefore: .max) else {
        throw BenchError("the journal has no snapshot")
    }
    lap("read the snapshot (\(mebibytes(stored.bytes.count)) copied out of LMDB)")
    guard var projection = try ProjectionSnapshot.load(stored) else {
        throw BenchError("the snapshot's format \(stored.format) is not this build's")
    }
    lap("decode it (`ProjectionSnapshot.load`: tasks, run log, due index)")
    let before = projection.position
    try await Replay.catchUp(&projection, from: journal)
    lap("replay the tail (\(grouped(Int(projection.position - before))) events)")
    journal.close()
    return stages
}

// MARK: - Child processes

/// Runs this executable again with `arguments` and returns what it printed on stdout.
func runChild(_ arguments: [String]) throws -> String {
    let executable: String
    do {
        executable = try FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")
    } catch {
        throw BenchError("cannot find this executable: \(error)")
    }
    let process = Process()
    process.executableURL = URL(fileURLWithPath: executable)
    process.arguments = arguments
    let output = Pipe()
    process.standardOutput = output
    do {
        try process.run()
    } catch {
        throw BenchError("cannot start \(executable): \(error)")
    }
    let data = output.fileHandleForReading.readDataToEndOfFile()
    process.waitUntilExit()
    guard process.terminationStatus == 0 else {
        throw BenchError("\(executable) \(arguments.joined(separator: " ")) exited with \(process.terminationStatus)")
    }
    return String(decoding: data, as: UTF8.self)
}

/// Reads `key: value` lines a child printed.
func fields(_ text: String) -> [String: String] {
    var result: [String: String] = [:]
    for line in text.split(separator: "\n") {
        guard let colon = line.firstIndex(of: ":") else { continue }
        result[String(line[..<colon])] = line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces)
    }
    return result
}

// MARK: - Phases

/// `--phase startup`: a cold start in this (fresh) process; prints `key: value` lines.
func startupPhase(options: Options, directory: String) async throws {
    if options.evictPageCache && !evictFromPageCache(directory + "/data.mdb") {
        throw BenchError("cannot evict \(directory)/data.mdb from the page cache")
    }
    let (result, projection) = try await coldStart(directory: directory, options: options)
    print("ready: \(result.readySeconds)")
    print("open: \(result.openSeconds)")
    print("snapshot: \(result.snapshotPosition.map(String.init) ?? "none")")
    print("position: \(result.position)")
    print("tasks: \(result.tasks)")
    print("digest: \(projection.digest)")
}

/// `--phase replay`: `Replay.build` over the journal in `--dir`, then the staged replay;
/// prints `key: value` lines.
func replayPhase(options: Options, directory: String) async throws {
    let journal = try LMDBJournal(directory: directory, configuration: options.configuration(readOnly: true))
    defer { journal.close() }
    let workers = ProcessInfo.processInfo.environment["BENCH_WORKERS"].flatMap(Int.init) ?? Replay.workers
    let (full, buildSeconds) = try await measure { try await Replay.build(from: journal, workers: workers) }
    print("events: \(full.position)")
    print("build seconds: \(fixed(buildSeconds, 3))")
    print("build events/s: \(rate(Int(full.position), buildSeconds))")
    if ProcessInfo.processInfo.environment["BENCH_REPLAY_ONLY"] != nil { return }
    let staged = try stagedReplay(journal: journal)
    print("staged read: \(fixed(staged.read, 3)) s, \(rate(staged.events, staged.read)) events/s")
    print("staged decode: \(fixed(staged.decode, 3)) s, \(rate(staged.events, staged.decode)) events/s")
    print("staged fold: \(fixed(staged.fold, 3)) s, \(rate(staged.events, staged.fold)) events/s")
    print("staged equals build: \(staged.projection == full)")
    print("digest: \(full.digest)")
}

/// `--phase memory`: resident memory before and after building the projection, in this
/// (fresh) process; prints a markdown section.
func memoryPhase(options: Options, directory: String) async throws {
    let before = try ResidentMemory.current()
    let journal = try LMDBJournal(directory: directory, configuration: options.configuration(readOnly: true))
    let (projection, buildSeconds) = try await measure { try await Replay.build(from: journal) }
    let mapped = try ResidentMemory.current()
    journal.close()  // unmaps the data file: what stays resident is the projection
    let after = try ResidentMemory.current()
    let trimmed = trimMallocHeap()
    let afterTrim = try ResidentMemory.current()
    let census = ProjectionCensus(projection)
    var report = Report()
    let perTask = { (bytes: Int, count: Int) in grouped(bytes / max(count, 1)) }
    report.add("Fresh process; projection of \(grouped(census.tasks)) tasks (\(grouped(census.active)) active, \(grouped(census.completed)) completed) built by `Replay.build` in \(fixed(buildSeconds)) s, \(grouped(Int(projection.position))) events.")
    report.add()
    let growth = after.total - before.total
    let growthTrimmed = afterTrim.total - before.total
    report.table(["moment", "VmRSS", "RssAnon", "RssFile"], [
        ["before (empty process)", mebibytes(before.total), mebibytes(before.anonymous), mebibytes(before.file)],
        ["after build, journal still mapped", mebibytes(mapped.total), mebibytes(mapped.anonymous), mebibytes(mapped.file)],
        ["after build, journal closed (unmapped)", mebibytes(after.total), mebibytes(after.anonymous), mebibytes(after.file)],
        ["… and after `malloc_trim(0)`\(trimmed ? "" : " (unavailable)")", mebibytes(afterTrim.total), mebibytes(afterTrim.anonymous), mebibytes(afterTrim.file)],
    ])
    report.table(["figure", "bytes", "per task", "per active task"], [
        ["VmRSS growth (journal closed)", grouped(growth), perTask(growth, census.tasks), perTask(growth, census.active)],
        ["VmRSS growth after malloc_trim", grouped(growthTrimmed), perTask(growthTrimmed, census.tasks), perTask(growthTrimmed, census.active)],
        ["VmRSS growth with the journal mapped", grouped(mapped.total - before.total), perTask(mapped.total - before.total, census.tasks), perTask(mapped.total - before.total, census.active)],
    ])
    report.add("Where it goes (inline sizes; heap-allocated strings and collections come on top):")
    report.add()
    let table = projection.tasks
    report.table(["part", "count", "inline bytes each", "inline total"], [
        ["task table: states (room for \(grouped(table.capacity))) and indexes of their slots", grouped(table.count), grouped(table.footprint / max(1, table.count)), mebibytes(table.footprint)],
        ["run records kept (retention 20; one array per part of the log)", grouped(census.runRecords), grouped(RunLog.bytesPerRecord), mebibytes(census.runRecords * RunLog.bytesPerRecord)],
        ["due-index heap entries (live \(grouped(census.dueLive)))", grouped(census.dueStored), grouped(MemoryLayout<DueEntry>.stride), mebibytes(census.dueStored * MemoryLayout<DueEntry>.stride)],
        ["pending retries", grouped(census.pending), grouped(MemoryLayout<PendingAttempt>.stride), "—"],
        ["runs in flight", grouped(census.inFlight), grouped(MemoryLayout<RunStart>.stride), "—"],
    ])
    report.add("`MemoryLayout.stride`: TaskState \(MemoryLayout<TaskState>.stride), TaskDefinition \(MemoryLayout<TaskDefinition>.stride), Schedule \(MemoryLayout<Schedule>.stride), CronSchedule \(MemoryLayout<CronSchedule>.stride), WebhookAction \(MemoryLayout<WebhookAction>.stride), RetryPolicy \(MemoryLayout<RetryPolicy>.stride), LastRun \(MemoryLayout<LastRun>.stride), RunLog record \(RunLog.bytesPerRecord), DueEntry \(MemoryLayout<DueEntry>.stride) bytes.")
    report.add()
    print(report.text)
    withExtendedLifetime(projection) {}
}

/// `--phase all`: generation, replay and snapshot start-up here; memory and fresh start-ups
/// in child processes.
func fullRun(options: Options) async throws {
    let directory = options.directory
        ?? FileManager.default.temporaryDirectory.path + "/almanac-bench-replay-\(UUID().uuidString.prefix(8))"
    if FileManager.default.fileExists(atPath: directory + "/data.mdb") {
        throw BenchError("\(directory) already holds a journal; give an empty or new directory")
    }
    defer {
        if !options.keep && options.directory == nil {
            try? FileManager.default.removeItem(atPath: directory)
        }
    }
    var report = Report()
    report.add("# bench-replay: \(grouped(options.tasks)) tasks")
    report.add()
    report.add("Journal: `\(directory)` (LMDB, default durability, map \(options.mapSizeGiB) GiB). \(ProcessInfo.processInfo.activeProcessorCount) cores, \(grouped(Int(ProcessInfo.processInfo.physicalMemory >> 30))) GiB RAM. Release build. Page cache warm unless said otherwise.")
    report.add()

    // 1. Generate.
    let journal = try LMDBJournal(directory: directory, configuration: options.configuration())
    let generation = try await generate(journal: journal, options: options)
    let used = try journal.storageInfo().usedBytes
    let dataFile = fileSize(directory + "/data.mdb") ?? 0
    report.add("## 1. Generate")
    report.add()
    report.table(["tasks", "events", "events/task", "append calls", "seconds", "events/s", "data.mdb", "map used", "simulated span"], [[
        grouped(generation.tasks), grouped(generation.events), fixed(Double(generation.events) / Double(generation.tasks), 2),
        grouped(generation.appendCalls), fixed(generation.seconds), rate(generation.events, generation.seconds),
        "\(grouped(dataFile)) B (\(mebibytes(dataFile)))", mebibytes(used),
        "\(generation.simulatedStart) → \(generation.simulatedEnd)",
    ]])
    report.add("Each decision (create, claim, complete, fail, skip) is one append request with the task's expected version; about \(grouped(options.batchEvents)) events of requests per `append` call, one call in flight while the next batch is decided. Tasks: 45 % cron `0 */5 * * * *` in \(DefinitionFactory.zones.count) zones, 45 % interval 60–3600 s, 10 % one-time; retries 1–3 attempts.")
    report.add()

    // 2. Replay throughput.
    var full = Projection()
    let buildSeconds: Double
    (full, buildSeconds) = try await measure { try await Replay.build(from: journal) }
    var staged = try stagedReplay(journal: journal)
    let census = ProjectionCensus(full)
    let stagedEqualsBuild = staged.projection == full
    staged.projection = Projection()  // free its memory before the snapshot phase
    report.add("## 2. Replay throughput")
    report.add()
    report.table(["measurement", "events", "seconds", "events/s"], [
        ["`Replay.build(from: journal)` (target ≥ 2,000,000 events/s)", grouped(Int(full.position)), fixed(buildSeconds, 3), rate(Int(full.position), buildSeconds)],
        ["the same by hand, stages timed (sum)", grouped(staged.events), fixed(staged.total, 3), rate(staged.events, staged.total)],
    ])
    report.table(["stage", "seconds", "share", "events/s if alone"], [
        ["read + decode envelopes (`journal.readEvents`, 4,096 per call)", fixed(staged.read, 3), fixed(100 * staged.read / staged.total, 1) + " %", rate(staged.events, staged.read)],
        ["decode payloads (`EventCodec.decode`)", fixed(staged.decode, 3), fixed(100 * staged.decode / staged.total, 1) + " %", rate(staged.events, staged.decode)],
        ["fold (`Projection.apply(_:position:streamVersion:)`)", fixed(staged.fold, 3), fixed(100 * staged.fold / staged.total, 1) + " %", rate(staged.events, staged.fold)],
    ])
    report.add("Projection: \(grouped(census.tasks)) tasks (\(grouped(census.active)) active, \(grouped(census.completed)) completed), \(grouped(census.runRecords)) run records, \(grouped(census.pending)) pending retries, due index \(grouped(census.dueLive)) live / \(grouped(census.dueStored)) stored, \(full.inconsistencies) inconsistencies. Staged replay equals `Replay.build`: \(stagedEqualsBuild).")
    report.add()

    // 3. Snapshot start-up.
    var snapshot = StoredSnapshot(position: 0, format: "", bytes: [])
    let makeSeconds: Double
    (snapshot, makeSeconds) = await measure { ProjectionSnapshot.make(full) }
    let (_, saveSeconds) = try await measure { [snapshot] in try await journal.saveSnapshot(snapshot) }
    let snapshotPosition = snapshot.position
    let snapshotSize = snapshot.bytes.count
    snapshot = StoredSnapshot(position: 0, format: "", bytes: [])  // free the bytes
    let tailStart = generation.simulatedEnd + .seconds(60)
    let tail = try await appendTail(journal: journal, projection: full, now: tailStart, target: options.tailEvents, options: options)
    journal.close()
    full = Projection()  // free it: the rest measures fresh projections
    return try await snapshotPhase(
        report: report, options: options, directory: directory, census: census, tail: tail,
        snapshot: (snapshotPosition, snapshotSize, makeSeconds, saveSeconds)
    )
}

/// A full replay of the journal beside a cold start from its snapshot: their figures, and
/// whether the two projections are equal (both are freed on return).
func compareStartWithReplay(directory: String, options: Options) async throws -> (
    position: UInt64, replaySeconds: Double, replayDigest: String,
    start: StartupResult, startDigest: String, equal: Bool
) {
    let (reference, replaySeconds) = try await measure { () async throws -> Projection in
        let fresh = try LMDBJournal(directory: directory, configuration: options.configuration())
        defer { fresh.close() }
        return try await Replay.build(from: fresh)
    }
    let (start, started) = try await coldStart(directory: directory, options: options)
    return (reference.position, replaySeconds, reference.digest, start, started.digest, started == reference)
}

/// The rest of `--phase all` once the generation's projection is no longer needed: the
/// reference replay, the cold starts, and the memory child.
func snapshotPhase(
    report incoming: Report,
    options: Options,
    directory: String,
    census: ProjectionCensus,
    tail: (events: Int, seconds: Double),
    snapshot: (position: UInt64, size: Int, makeSeconds: Double, saveSeconds: Double)
) async throws {
    var report = incoming
    let (makeSeconds, saveSeconds) = (snapshot.makeSeconds, snapshot.saveSeconds)
    let comparison = try await compareStartWithReplay(directory: directory, options: options)
    let (referencePosition, referenceSeconds, referenceDigest) = (comparison.position, comparison.replaySeconds, comparison.replayDigest)
    let (inProcess, startedDigest, startedEqualsReference) = (comparison.start, comparison.startDigest, comparison.equal)
    let stages = try await stagedStart(directory: directory, options: options)
    let warmChild = fields(try runChild(["--phase", "startup", "--dir", directory, "--map-size", String(options.mapSizeGiB)]))
    let coldChild = fields(try runChild(["--phase", "startup", "--dir", directory, "--map-size", String(options.mapSizeGiB), "--evict"]))
    let finalFile = fileSize(directory + "/data.mdb") ?? 0

    report.add("## 3. Snapshot start-up")
    report.add()
    report.table(["step", "result"], [
        ["`ProjectionSnapshot.make` at position \(grouped(Int(snapshot.position)))", "\(fixed(makeSeconds, 3)) s"],
        ["snapshot size", "\(grouped(snapshot.size)) B (\(mebibytes(snapshot.size)), \(grouped(snapshot.size / max(census.tasks, 1))) B/task)"],
        ["`journal.saveSnapshot`", "\(fixed(saveSeconds, 3)) s"],
        ["tail appended after the snapshot", "\(grouped(tail.events)) events in \(fixed(tail.seconds, 2)) s (claims of due attempts, completed or failed)"],
        ["journal after the tail", "\(grouped(Int(referencePosition))) events, data.mdb \(mebibytes(finalFile))"],
        ["full replay of that journal (reference)", "\(fixed(referenceSeconds, 3)) s, \(rate(Int(referencePosition), referenceSeconds)) events/s"],
    ])
    func childRow(_ name: String, _ child: [String: String]) -> [String] {
        let ready = Double(child["ready"] ?? "").map { fixed($0, 3) } ?? "?"
        let open = Double(child["open"] ?? "").map { fixed($0, 3) } ?? "?"
        let digest = child["digest"] ?? "?"
        return [name, ready, open, digest, digest == referenceDigest ? "yes" : "**no**"]
    }
    report.add("Cold start = `LMDBJournal(directory:)` + `Replay.fromSnapshot(of:)` until the projection is ready (target ≤ 3 s):")
    report.add()
    report.table(["start", "seconds to ready", "of which open", "digest", "digest = full replay"], [
        ["this process, journal opened fresh (page cache warm)", fixed(inProcess.readySeconds, 3), fixed(inProcess.openSeconds, 3), startedDigest, startedDigest == referenceDigest ? "yes" : "**no**"],
        childRow("fresh process, page cache warm", warmChild),
        childRow("fresh process, data.mdb evicted from the page cache", coldChild),
    ])
    report.add("Snapshot-started projection `==` full replay: **\(startedEqualsReference)** (snapshot at \(grouped(Int(inProcess.snapshotPosition ?? 0))), both at position \(grouped(Int(referencePosition)))). Digests: full replay `\(referenceDigest)`, from snapshot `\(startedDigest)`.")
    report.add()
    report.add("Where a snapshot start spends its time (this process, warm cache):")
    report.add()
    report.table(["stage", "seconds"], stages.map { [$0.0, fixed($0.1, 3)] })

    // 4. Memory, in a fresh process.
    report.add("## 4. Memory per task (fresh process: `--phase memory`; target ≤ 1,024 B per active task)")
    report.add()
    report.include(try runChild(["--phase", "memory", "--dir", directory, "--map-size", String(options.mapSizeGiB)]))
    report.add("Data directory \(options.directory == nil && !options.keep ? "removed" : "kept"): `\(directory)`.")
    print(report.text)
}

// MARK: - Main

guard let options = Options.parse(CommandLine.arguments) else { exit(64) }
if ProcessInfo.processInfo.environment["BENCH_DEFAULT_MALLOC"] == nil { ProcessMemory.mapLargeBlocks() }
do {
    switch options.phase {
    case .all: try await fullRun(options: options)
    case .memory: try await memoryPhase(options: options, directory: options.directory ?? "")
    case .startup: try await startupPhase(options: options, directory: options.directory ?? "")
    case .replay: try await replayPhase(options: options, directory: options.directory ?? "")
    }
} catch {
    printError("bench-replay: \(error)")
    exit(1)
}
