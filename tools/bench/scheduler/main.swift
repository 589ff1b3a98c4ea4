// bench-scheduler: release-build benchmark of the whole engine on real time — the LMDB
// journal (default durability) in a temporary directory, the projection store, the command
// service, the dispatcher, the scheduler loop and the system clock.
//
//   swift build -c release --product bench-scheduler
//   .build/release/bench-scheduler                         # full: D = 60 s per steady phase
//   .build/release/bench-scheduler --seconds 10            # quick
//
// Options:
//   --seconds D               measured seconds per steady phase (default 60; 2 more s of warm-up)
//   --phases a,b,...          steady, arrival, burst, webhooks (default: all)
//   --rates 1000,5000         claim rates for the steady phase
//   --arrival-rates 1000,5000 rates for the HTTP arrival phase
//   --burst-tasks N           tasks in the burst (default 100000)
//   --burst-lead S            seconds from the start of creation to the burst instant (default 8)
//   --webhook-seconds S       duration of the webhooks/s phase (default 10)
//   --webhook-callers N       concurrent callers of the webhooks/s phase (default 256)
//
// Figures:
//   claim lateness     RunStarted recorded-at − scheduled-at (recorded-at is the instant the
//                      scheduler decided the claim's batch)
//   commit lateness    RunRequest.firedAt − scheduled-at (firedAt is read after the claim's
//                      group commit returned, i.e. the claim is durable)
//   executor lateness  instant the executor is entered − scheduled-at
//   arrival lateness   receiver arrivedAt − scheduled-at (from the Almanac-Run-Id header)
import AlmanacTesting
import Engine
import Foundation
import Journal
import Logging
import Projections
import Scheduling
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

// MARK: - Options

struct Options {
    var seconds = 60
    var warmup = 2
    var phases: [String] = ["steady", "arrival", "burst", "webhooks"]
    var rates = [1000, 5000]
    var arrivalRates = [1000, 5000]
    var burstTasks = 100_000
    var burstLead = 8
    var webhookSeconds = 10
    var webhookCallers = 256
    var dump: String?
    /// Diagnostic only: overrides LMDBJournal's index flush threshold (default: the library's).
    var indexFlush: Int?
    /// Diagnostic: the burst's executor holds every attempt until all are claimed, so no
    /// outcome is recorded while claiming (claim throughput alone).
    var burstHold = false

    static func parse(_ arguments: [String]) -> Options {
        var options = Options()
        var index = 1
        func value() -> String {
            index += 1
            guard index < arguments.count else { fail("missing value for \(arguments[index - 1])") }
            return arguments[index]
        }
        func int(_ text: String) -> Int {
            guard let number = Int(text.replacingOccurrences(of: "_", with: "")) else { fail("not a number: \(text)") }
            return number
        }
        func ints(_ text: String) -> [Int] { text.split(separator: ",").map { int(String($0)) } }
        while index < arguments.count {
            switch arguments[index] {
            case "--seconds": options.seconds = int(value())
            case "--warmup": options.warmup = int(value())
            case "--phases": options.phases = value().split(separator: ",").map(String.init)
            case "--rates": options.rates = ints(value())
            case "--arrival-rates": options.arrivalRates = ints(value())
            case "--burst-tasks": options.burstTasks = int(value())
            case "--burst-lead": options.burstLead = int(value())
            case "--webhook-seconds": options.webhookSeconds = int(value())
            case "--webhook-callers": options.webhookCallers = int(value())
            case "--dump": options.dump = value()
            case "--index-flush": options.indexFlush = int(value())
            case "--burst-hold": options.burstHold = true
            default: fail("unknown option \(arguments[index])")
            }
            index += 1
        }
        return options
    }
}

func fail(_ message: String) -> Never {
    FileHandle.standardError.write(Data("bench-scheduler: \(message)\n".utf8))
    exit(64)
}

func progress(_ line: String) {
    FileHandle.standardError.write(Data("[\(String(format: "%.3f", Double(wallMicros()) / 1e6))] \(line)\n".utf8))
}

func emit(_ text: String) {
    FileHandle.standardOutput.write(Data((text + "\n").utf8))
}

// MARK: - Time, CPU and statistics

func wallMicros() -> Int64 {
    var ts = timespec()
    clock_gettime(CLOCK_REALTIME, &ts)
    return Int64(ts.tv_sec) * 1_000_000 + Int64(ts.tv_nsec) / 1000
}

func cpuSeconds() -> Double {
    var ts = timespec()
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts)
    return Double(ts.tv_sec) + Double(ts.tv_nsec) / 1e9
}

func sleep(untilMicros deadline: Int64) async {
    let remaining = deadline - wallMicros()
    if remaining > 0 { try? await Task.sleep(for: .microseconds(remaining)) }
}

func peakRSSMiB() -> String {
    guard let status = try? String(contentsOfFile: "/proc/self/status", encoding: .utf8) else { return "?" }
    for line in status.split(separator: "\n") where line.hasPrefix("VmHWM:") {
        let kb = line.split(separator: " ").compactMap { Int($0) }.first ?? 0
        return "\(kb / 1024)"
    }
    return "?"
}

struct Distribution {
    var count = 0
    var min: Int64 = 0
    var p50: Int64 = 0
    var p90: Int64 = 0
    var p99: Int64 = 0
    var p999: Int64 = 0
    var max: Int64 = 0
    var mean: Double = 0

    init(_ values: [Int64]) {
        guard !values.isEmpty else { return }
        let sorted = values.sorted()
        func quantile(_ q: Double) -> Int64 {
            let rank = Int((q * Double(sorted.count)).rounded(.up)) - 1
            return sorted[Swift.max(0, Swift.min(sorted.count - 1, rank))]
        }
        count = sorted.count
        min = sorted[0]
        p50 = quantile(0.50)
        p90 = quantile(0.90)
        p99 = quantile(0.99)
        p999 = quantile(0.999)
        max = sorted[sorted.count - 1]
        mean = Double(sorted.reduce(0, +)) / Double(sorted.count)
    }

    /// A markdown table row: count, min, p50, p90, p99, p99.9, max, mean (ms).
    func row(_ label: String) -> String {
        "| \(label) | \(group(count)) | \(ms(min)) | \(ms(p50)) | \(ms(p90)) | \(ms(p99)) | \(ms(p999)) | \(ms(max)) | \(String(format: "%.3f", mean / 1000)) |"
    }

    static let header = """
        | figure | count | min ms | p50 ms | p90 ms | p99 ms | p99.9 ms | max ms | mean ms |
        |---|---:|---:|---:|---:|---:|---:|---:|---:|
        """
}

func ms(_ micros: Int64) -> String { String(format: "%.3f", Double(micros) / 1000) }

func group(_ number: Int) -> String {
    let digits = String(number.magnitude)
    var out = ""
    for (offset, character) in digits.enumerated() {
        if offset > 0 && (digits.count - offset) % 3 == 0 { out += "," }
        out.append(character)
    }
    return number < 0 ? "-" + out : out
}

// MARK: - Executors

/// What the executor saw of one attempt.
struct Handoff: Sendable {
    let scheduledAt: Int64
    let firedAt: Int64
    let enteredAt: Int64
}

/// Records each attempt it is handed, then succeeds at once (no-op) or forwards to `inner`.
final class BenchExecutor: RunExecutor {
    let inner: (any RunExecutor)?
    let handoffs = Mutex<[Handoff]>([])
    let handed = Atomic<Int>(0)
    /// When set, attempts wait here until `release()`.
    let gate = Mutex<(held: Bool, waiters: [CheckedContinuation<Void, Never>])>((false, []))

    func hold() { gate.withLock { $0.held = true } }

    func release() {
        let waiters = gate.withLock { state in
            state.held = false
            defer { state.waiters = [] }
            return state.waiters
        }
        for waiter in waiters { waiter.resume() }
    }

    init(inner: (any RunExecutor)?) {
        self.inner = inner
        handoffs.withLock { $0.reserveCapacity(1 << 16) }
    }

    func execute(_ request: RunRequest) async -> RunResult {
        let entered = wallMicros()
        handoffs.withLock {
            $0.append(Handoff(
                scheduledAt: request.start.scheduledAt.microsecondsSinceEpoch,
                firedAt: request.firedAt.microsecondsSinceEpoch,
                enteredAt: entered
            ))
        }
        handed.add(1, ordering: .relaxed)
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            let held = gate.withLock { state in
                if state.held { state.waiters.append(continuation) }
                return state.held
            }
            if !held { continuation.resume() }
        }
        if let inner { return await inner.execute(request) }
        return .succeeded(RunOutcome(statusCode: 200, duration: .zero))
    }
}

// MARK: - The engine

/// The whole engine on an LMDB journal in a temporary directory.
final class Rig: Sendable {
    let directory: String
    let journal: LMDBJournal
    let store: ProjectionStore
    let commands: CommandService
    let dispatcher: RunDispatcher
    let scheduler: Scheduler
    let clock: SystemClock

    init(executor: any RunExecutor, maxConcurrent: Int, label: String) async throws {
        let clock = SystemClock()
        let directory = try TemporaryDirectory.create(prefix: "almanac-bench-\(label)")
        var configuration = LMDBJournal.Configuration()  // default configuration and durability
        if let threshold = benchIndexFlush { configuration.indexFlushThreshold = threshold }
        let journal = try LMDBJournal(directory: directory, configuration: configuration)
        let store = ProjectionStore(journal: journal)
        try await store.catchUp()
        let commands = CommandService(journal: journal, store: store, clock: clock)
        let dispatcher = RunDispatcher(
            executor: executor, commands: commands, clock: clock, maxConcurrent: maxConcurrent,
            shutdownDeadline: .seconds(60), logger: Logger(label: "bench-scheduler")
        )
        self.scheduler = Scheduler(
            journal: journal, store: store, dispatcher: dispatcher, commands: commands, clock: clock,
            logger: Logger(label: "bench-scheduler")
        )
        self.clock = clock
        self.directory = directory
        self.journal = journal
        self.store = store
        self.commands = commands
        self.dispatcher = dispatcher
    }

    /// Creates the tasks: decided here, appended `chunk` requests per `journal.append` call.
    /// Returns the seconds it took.
    func createTasks(count: Int, id: (Int) -> TaskID, definition: (Int) -> TaskDefinition) async throws -> Double {
        let started = wallMicros()
        let now = clock.now()
        let chunk = 4096
        var index = 0
        while index < count {
            let end = min(count, index + chunk)
            var requests: [AppendRequest] = []
            requests.reserveCapacity(end - index)
            for k in index..<end {
                let task = id(k)
                let events = try TaskDecider.decide(
                    TaskCommand(taskID: task, actor: "bench", action: .createTask(definition(k))), state: nil, now: now
                )
                requests.append(AppendRequest(events, decidedOn: nil, task: task))
            }
            for result in await journal.append(requests) {
                if case .failure(let error) = result { throw error }
            }
            index = end
        }
        try await store.catchUp()
        return Double(wallMicros() - started) / 1e6
    }

    struct Running {
        let scheduler: Task<Void, any Error>
        let dispatcher: Task<Void, any Error>
    }

    func start() -> Running {
        let dispatcher = self.dispatcher
        let scheduler = self.scheduler
        return Running(
            scheduler: Task { try await scheduler.run() },
            dispatcher: Task { try await dispatcher.run() }
        )
    }

    /// Cancels the scheduler loop, then lets the dispatcher record what it was handed.
    func stop(_ running: Running) async throws {
        running.scheduler.cancel()
        if case .failure(let error) = await running.scheduler.result, !(error is CancellationError) {
            progress("scheduler ended with \(error)")
        }
        dispatcher.finish()
        try await running.dispatcher.value
    }

    func close() {
        journal.close()
        try? FileManager.default.removeItem(atPath: directory)
    }
}

/// What the journal says about the runs.
struct JournalScan {
    struct Claim {
        let task: String
        let run: String
        let scheduledAt: Int64
        let recordedAt: Int64
    }

    var claims: [Claim] = []
    var counts: [String: Int] = [:]
    var failures: [String: Int] = [:]
    var events = 0

    static func read(_ journal: LMDBJournal) async throws -> JournalScan {
        var scan = JournalScan()
        var position: UInt64 = 0
        while true {
            let batch = try await journal.read(after: position, limit: 4096)
            if batch.isEmpty { break }
            for record in batch {
                position = record.position
                scan.events += 1
                scan.counts[record.type, default: 0] += 1
                guard record.type == "RunStarted" || record.type == "RunFailed" else { continue }
                let event = try EventCodec.decode(
                    type: record.type, schemaVersion: record.schemaVersion, payload: record.payload,
                    taskID: TaskID(record.streamID.rawValue), at: Instant(microsecondsSinceEpoch: record.recordedAt)
                )
                switch event.kind {
                case .runStarted(let start):
                    scan.claims.append(Claim(
                        task: record.streamID.rawValue, run: start.run.rawValue,
                        scheduledAt: start.scheduledAt.microsecondsSinceEpoch, recordedAt: record.recordedAt
                    ))
                case .runFailed(_, let outcome, let interrupted):
                    let reason = interrupted ? "interrupted" : String((outcome.error ?? "?").prefix(80))
                    scan.failures[reason, default: 0] += 1
                default:
                    break
                }
            }
        }
        return scan
    }

    var countsLine: String {
        counts.sorted { $0.key < $1.key }.map { "\($0.key) \(group($0.value))" }.joined(separator: ", ")
    }
}

func lateness(_ claims: [JournalScan.Claim]) -> [Int64] { claims.map { $0.recordedAt - $0.scheduledAt } }

/// The scheduled instant (µs) inside a run id `<task>@<µs>#<attempt>`.
func scheduledMicros(fromRun run: String) -> Int64? {
    guard let at = run.lastIndex(of: "@"), let hash = run.lastIndex(of: "#"), at < hash else { return nil }
    return Int64(run[run.index(after: at)..<hash])
}

// MARK: - Phase 1 and 2: steady rate

final class Peak: Sendable {
    let value = Atomic<Int>(0)
}

struct SteadyResult {
    var title = ""
    var rate = 0
    var seconds = 0
    var creation = 0.0
    var expected = 0
    var claim = Distribution([])
    var commit = Distribution([])
    var entered = Distribution([])
    var arrival: Distribution?
    var arrivals = 0
    var claimedInWindow = 0
    var totalClaims = 0
    var cpu = 0.0
    var commits = 0
    var committedEvents = 0
    var maxInFlight = 0
    var counts = ""
    var failures: [String: Int] = [:]
    var notes: [String] = []
}

func runSteady(rate: Int, options: Options, http: Bool) async throws -> SteadyResult {
    let label = http ? "arrival" : "steady"
    progress("\(label) R=\(rate)/s D=\(options.seconds)s: setting up")
    var receiver: WebhookReceiver?
    var httpExecutor: HTTPExecutor?
    var url = "http://127.0.0.1:9/unused"
    if http {
        let started = try await WebhookReceiver.start(keepAlive: true)  // as most web servers
        receiver = started
        httpExecutor = HTTPExecutor(clock: SystemClock())
        url = started.url("/hook")
    }
    let executor = BenchExecutor(inner: httpExecutor)
    let rig = try await Rig(executor: executor, maxConcurrent: 10_000, label: "\(label)-\(rate)")
    defer { rig.close() }

    let now = wallMicros()
    let base = (now / 1_000_000 + 1) * 1_000_000
    let startAt = base + 3_000_000  // the first occurrence: creation has 3 s
    let windowStart = startAt + Int64(options.warmup) * 1_000_000
    let windowEnd = windowStart + Int64(options.seconds) * 1_000_000
    let creation = try await rig.createTasks(
        count: rate,
        id: { TaskID("r\(rate)-\($0)") },
        definition: { index in
            TaskDefinition(
                name: "bench-\(index)",
                schedule: Schedule(
                    .interval(every: .seconds(1), anchor: Instant(microsecondsSinceEpoch: base + Int64(index) * 1_000_000 / Int64(rate))),
                    startAt: Instant(microsecondsSinceEpoch: startAt)
                ),
                action: WebhookAction(url: url, timeout: .seconds(10)),
                retry: RetryPolicy(maxAttempts: 1)
            )
        }
    )
    progress("\(label) R=\(rate): created \(rate) tasks in \(String(format: "%.3f", creation)) s; first occurrence in \(ms(startAt - wallMicros())) ms")
    if wallMicros() > startAt { progress("warning: creation overran the first occurrence") }

    let running = rig.start()
    // Track the dispatcher's peak in-flight count while the phase runs.
    let peak = Peak()
    let sampler = Task {
        while !Task.isCancelled {
            let value = rig.dispatcher.running
            if value > peak.value.load(ordering: .relaxed) { peak.value.store(value, ordering: .relaxed) }
            try? await Task.sleep(for: .milliseconds(50))
        }
    }
    await sleep(untilMicros: windowStart)
    let cpu0 = cpuSeconds()
    let stats0 = rig.journal.commitStatistics()
    progress("\(label) R=\(rate): warm-up done, measuring \(options.seconds) s")
    await sleep(untilMicros: windowEnd)
    let cpu1 = cpuSeconds()
    let stats1 = rig.journal.commitStatistics()
    await sleep(untilMicros: windowEnd + 300_000)  // let the window's last claims commit
    sampler.cancel()
    progress("\(label) R=\(rate): stopping (in flight: \(rig.dispatcher.running))")
    try await rig.stop(running)
    try? await httpExecutor?.shutdown()

    let scan = try await JournalScan.read(rig.journal)
    let window = scan.claims.filter { $0.scheduledAt >= windowStart && $0.scheduledAt < windowEnd }
    let handoffs = executor.handoffs.withLock { $0 }.filter { $0.scheduledAt >= windowStart && $0.scheduledAt < windowEnd }
    if let dump = options.dump {
        // scheduled-at, recorded-at (µs), per claim; then scheduled-at, firedAt, entered per handoff.
        var text = "kind,scheduled,t1,t2\n"
        for claim in window { text += "claim,\(claim.scheduledAt),\(claim.recordedAt),0\n" }
        for handoff in handoffs { text += "handoff,\(handoff.scheduledAt),\(handoff.firedAt),\(handoff.enteredAt)\n" }
        try? text.write(toFile: "\(dump)-\(label)-\(rate).csv", atomically: false, encoding: .utf8)
    }

    var result = SteadyResult()
    result.title = http ? "Arrival lateness, HTTPExecutor → WebhookReceiver (keep-alive)" : "Steady claim lateness, no-op executor"
    result.rate = rate
    result.seconds = options.seconds
    result.creation = creation
    result.expected = rate * options.seconds
    result.claimedInWindow = window.count
    result.totalClaims = scan.claims.count
    result.claim = Distribution(lateness(window))
    result.commit = Distribution(handoffs.map { $0.firedAt - $0.scheduledAt })
    result.entered = Distribution(handoffs.map { $0.enteredAt - $0.scheduledAt })
    result.cpu = (cpu1 - cpu0) / Double(options.seconds)
    result.commits = stats1.commits - stats0.commits
    result.committedEvents = stats1.events - stats0.events
    result.maxInFlight = peak.value.load(ordering: .relaxed)
    result.counts = scan.countsLine
    result.failures = scan.failures
    if let receiver {
        let received = receiver.received
        var values: [Int64] = []
        values.reserveCapacity(received.count)
        for request in received {
            guard let run = request.header("Almanac-Run-Id"), let scheduled = scheduledMicros(fromRun: run) else { continue }
            guard scheduled >= windowStart && scheduled < windowEnd else { continue }
            let arrived = Int64((request.arrivedAt.timeIntervalSince1970 * 1e6).rounded())
            values.append(arrived - scheduled)
        }
        result.arrival = Distribution(values)
        result.arrivals = received.count
        try? await receiver.stop()
    }
    progress("\(label) R=\(rate): done, claim p99 \(ms(result.claim.p99)) ms")
    return result
}

func report(_ r: SteadyResult, options: Options) -> String {
    var lines: [String] = []
    lines.append("### \(r.title) — R = \(group(r.rate))/s, D = \(r.seconds) s (+\(options.warmup) s warm-up skipped)")
    lines.append("")
    lines.append("- tasks: \(group(r.rate)) × `every 1s`, anchors base + i/R s; created in \(String(format: "%.2f", r.creation)) s (\(group(Int(r.creation > 0 ? Double(r.rate) / r.creation : 0))) tasks/s)")
    lines.append("- occurrences in window: expected \(group(r.expected)), claimed \(group(r.claimedInWindow))\(r.claimedInWindow == r.expected ? "" : " (**\(group(r.expected - r.claimedInWindow)) missing**)"); all claims in journal \(group(r.totalClaims))")
    lines.append("- process CPU in window: \(String(format: "%.2f", r.cpu)) cores of 2; group commits \(group(r.commits)) (\(group(r.commits / max(1, r.seconds)))/s, \(String(format: "%.1f", Double(r.committedEvents) / Double(max(1, r.commits)))) events/commit); peak dispatcher in-flight ≈ \(group(r.maxInFlight))")
    lines.append("- journal events: \(r.counts)")
    if !r.failures.isEmpty {
        lines.append("- run failures: " + r.failures.sorted { $0.value > $1.value }.prefix(5).map { "\(group($0.value))× \($0.key)" }.joined(separator: "; "))
    }
    if r.arrival != nil { lines.append("- requests received by the receiver (whole run): \(group(r.arrivals))") }
    lines.append("")
    lines.append(Distribution.header)
    lines.append(r.claim.row("claim lateness (RunStarted recorded-at − scheduled-at)"))
    lines.append(r.commit.row("commit lateness (firedAt after commit − scheduled-at)"))
    lines.append(r.entered.row("executor entered − scheduled-at"))
    if let arrival = r.arrival { lines.append(arrival.row("**arrival lateness** (receiver arrivedAt − scheduled-at)")) }
    lines.append("")
    return lines.joined(separator: "\n")
}

// MARK: - Phase 3: burst

func runBurst(options: Options) async throws -> String {
    let count = options.burstTasks
    progress("burst N=\(count): setting up")
    let executor = BenchExecutor(inner: nil)
    if options.burstHold { executor.hold() }
    let rig = try await Rig(executor: executor, maxConcurrent: max(100_000, count) + 1024, label: "burst")
    defer { rig.close() }
    let now = wallMicros()
    let burstAt = (now / 1_000_000 + Int64(options.burstLead)) * 1_000_000
    let creation = try await rig.createTasks(
        count: count,
        id: { TaskID("b-\($0)") },
        definition: { index in
            TaskDefinition(
                name: "burst-\(index)",
                schedule: Schedule(.once(Instant(microsecondsSinceEpoch: burstAt))),
                action: WebhookAction(url: "http://127.0.0.1:9/unused", timeout: .seconds(10))
            )
        }
    )
    let slack = burstAt - wallMicros()
    progress("burst: created \(count) tasks in \(String(format: "%.2f", creation)) s; T in \(ms(slack)) ms")
    let running = rig.start()
    let cpu0 = cpuSeconds()
    let stats0 = rig.journal.commitStatistics()
    let giveUp = burstAt + 120_000_000
    var allHandedAt: Int64 = 0
    while wallMicros() < giveUp {
        if executor.handed.load(ordering: .relaxed) >= count {
            allHandedAt = wallMicros()
            executor.release()
            break
        }
        try? await Task.sleep(for: .milliseconds(1))
    }
    // Wait for the dispatcher to record every outcome, for the CPU/commit figures.
    while rig.dispatcher.running > 0 && wallMicros() < giveUp { try? await Task.sleep(for: .milliseconds(5)) }
    let allRecordedAt = wallMicros()
    let cpu1 = cpuSeconds()
    let stats1 = rig.journal.commitStatistics()
    try await rig.stop(running)

    let scan = try await JournalScan.read(rig.journal)
    let claims = scan.claims
    let handoffs = executor.handoffs.withLock { $0 }
    let lastRecorded = claims.map(\.recordedAt).max() ?? 0
    let lastFired = handoffs.map(\.firedAt).max() ?? 0
    let lastEntered = handoffs.map(\.enteredAt).max() ?? 0
    let ticks = Set(claims.map(\.recordedAt)).count
    var claimedWithin1s = 0
    var firedWithin1s = 0
    for claim in claims where claim.recordedAt - burstAt <= 1_000_000 { claimedWithin1s += 1 }
    for handoff in handoffs where handoff.firedAt - burstAt <= 1_000_000 { firedWithin1s += 1 }

    var lines: [String] = []
    lines.append("### Burst — \(group(count)) one-time tasks all due at the same instant T, no-op executor\(options.burstHold ? " (DIAGNOSTIC --burst-hold: outcomes held until every attempt was claimed)" : "")")
    lines.append("")
    lines.append("- created in \(String(format: "%.2f", creation)) s (\(group(Int(Double(count) / creation))) tasks/s); T was \(ms(slack)) ms after creation ended; dispatcher maxConcurrent \(group(max(100_000, count) + 1024))")
    lines.append("- RunStarted in journal: \(group(claims.count)) of \(group(count)); distinct recorded-at instants (≈ ticks that claimed): \(ticks)")
    lines.append("- **T → last RunStarted recorded-at: \(ms(lastRecorded - burstAt)) ms** (\(group(claimedWithin1s)) recorded-at within 1 s)")
    lines.append("- T → last claim durable (last firedAt): \(ms(lastFired - burstAt)) ms (\(group(firedWithin1s)) durable within 1 s); T → last executor entry: \(ms(lastEntered - burstAt)) ms")
    lines.append("- T → all handed to executor (observed): \(allHandedAt > 0 ? ms(allHandedAt - burstAt) + " ms" : "not reached"); T → every outcome recorded: \(ms(allRecordedAt - burstAt)) ms")
    lines.append("- process CPU from scheduler start to all recorded: \(String(format: "%.2f", cpu1 - cpu0)) s; group commits \(group(stats1.commits - stats0.commits)) (\(String(format: "%.1f", Double(stats1.events - stats0.events) / Double(max(1, stats1.commits - stats0.commits)))) events/commit); peak RSS \(peakRSSMiB()) MiB")
    lines.append("- journal events: \(scan.countsLine)")
    let byInstant = Dictionary(grouping: claims.map(\.recordedAt), by: { $0 }).mapValues(\.count).sorted { $0.key < $1.key }
    lines.append("- claims by recorded-at (ms after T × claims): " + byInstant.map { "\(ms($0.key - burstAt))×\($0.value)" }.joined(separator: ", "))
    lines.append("")
    lines.append(Distribution.header)
    lines.append(Distribution(lateness(claims)).row("claim lateness (recorded-at − T)"))
    lines.append(Distribution(handoffs.map { $0.firedAt - $0.scheduledAt }).row("commit lateness (firedAt − T)"))
    lines.append(Distribution(handoffs.map { $0.enteredAt - $0.scheduledAt }).row("executor entered − T"))
    lines.append("")
    progress("burst: done, last recorded-at T+\(ms(lastRecorded - burstAt)) ms, last durable T+\(ms(lastFired - burstAt)) ms")
    return lines.joined(separator: "\n")
}

// MARK: - Phase 4: webhooks per second

func runWebhooks(options: Options, keepAlive: Bool) async throws -> String {
    progress("webhooks: \(options.webhookCallers) callers for \(options.webhookSeconds) s, \(keepAlive ? "keep-alive" : "Connection: close")")
    let receiver = try await WebhookReceiver.start(keepAlive: keepAlive)
    let clock = SystemClock()
    // As the server runs it: every call signed (Standard Webhooks) and checked against the
    // address policy.
    var random = SystemRandomNumberGenerator()
    let signer = try WebhookSigner(secret: WebhookSigner.generateSecret(using: &random))
    let executor = HTTPExecutor(clock: clock, configuration: .init(signer: signer, addressPolicy: AddressPolicy()))
    let action = WebhookAction(url: receiver.url("/hook"), timeout: .seconds(10))
    struct Tally: Sendable {
        var ok = 0
        var failed = 0
        var latencies: [Int64] = []
        var errors: [String: Int] = [:]
    }
    let started = wallMicros()
    let deadline = started + Int64(options.webhookSeconds) * 1_000_000
    let cpu0 = cpuSeconds()
    let tally = await withTaskGroup(of: Tally.self) { group in
        for caller in 0..<options.webhookCallers {
            group.addTask {
                var tally = Tally()
                let task = TaskID("w-\(caller)")
                var sequence: Int64 = 0
                while wallMicros() < deadline {
                    sequence += 1
                    let now = clock.now()
                    let occurrence = OccurrenceID.scheduled(task, at: Instant(microsecondsSinceEpoch: sequence))
                    let start = RunStart(
                        run: RunID(occurrence, attempt: 1), occurrence: occurrence, scheduledAt: now, dueAt: now,
                        attempt: 1, occurrenceKind: .scheduled, nextDueAt: nil
                    )
                    let request = RunRequest(taskID: task, start: start, action: action, firedAt: now)
                    let t0 = wallMicros()
                    let result = await executor.execute(request)
                    tally.latencies.append(wallMicros() - t0)
                    switch result {
                    case .succeeded: tally.ok += 1
                    case .failed(let outcome):
                        tally.failed += 1
                        tally.errors[String((outcome.error ?? "?").prefix(80)), default: 0] += 1
                    }
                }
                return tally
            }
        }
        var total = Tally()
        for await part in group {
            total.ok += part.ok
            total.failed += part.failed
            total.latencies += part.latencies
            for (key, value) in part.errors { total.errors[key, default: 0] += value }
        }
        return total
    }
    let elapsed = Double(wallMicros() - started) / 1e6
    let cpu = (cpuSeconds() - cpu0) / elapsed
    let received = receiver.received.count
    try? await executor.shutdown()
    try? await receiver.stop()
    let rate = Double(tally.ok) / elapsed
    var lines: [String] = []
    lines.append("### Webhooks/s — `HTTPExecutor.execute` × \(options.webhookCallers) concurrent callers → WebhookReceiver (\(keepAlive ? "keep-alive connections" : "Connection: close")), \(options.webhookSeconds) s")
    lines.append("")
    lines.append("- **\(group(Int(rate))) successful calls/s** (\(group(tally.ok)) ok, \(group(tally.failed)) failed in \(String(format: "%.2f", elapsed)) s); receiver got \(group(received)); process CPU \(String(format: "%.2f", cpu)) cores of 2 (client and receiver share the process and NIO's singleton event loops)")
    if !tally.errors.isEmpty {
        lines.append("- failures: " + tally.errors.sorted { $0.value > $1.value }.prefix(5).map { "\(group($0.value))× \($0.key)" }.joined(separator: "; "))
    }
    lines.append("")
    lines.append(Distribution.header)
    lines.append(Distribution(tally.latencies).row("call latency (execute → result)"))
    lines.append("")
    progress("webhooks: \(Int(rate)) calls/s")
    return lines.joined(separator: "\n")
}

// MARK: - Main

let options = Options.parse(CommandLine.arguments)
ProcessMemory.mapLargeBlocks()  // as `almanac serve` does
let benchIndexFlush = options.indexFlush
let cpuModel = (try? String(contentsOfFile: "/proc/cpuinfo", encoding: .utf8))?
    .split(separator: "\n").first { $0.hasPrefix("model name") }?
    .split(separator: ":", maxSplits: 1).last?.trimmingCharacters(in: .whitespaces) ?? "?"
let memory = (try? String(contentsOfFile: "/proc/meminfo", encoding: .utf8))?
    .split(separator: "\n").first { $0.hasPrefix("MemTotal") }?
    .split(separator: " ").compactMap { Int($0) }.first.map { "\($0 / 1024 / 1024) GiB" } ?? "?"

emit("## bench-scheduler")
emit("")
emit("- command: `\(CommandLine.arguments.joined(separator: " "))`")
emit("- machine: \(ProcessInfo.processInfo.activeProcessorCount) cores (\(cpuModel)), \(memory) RAM, Linux; release build")
emit("- started: \(Date())")
emit("- journal: LMDBJournal, default configuration and durability\(options.indexFlush.map { " (DIAGNOSTIC: indexFlushThreshold \($0))" } ?? ""), in a fresh temporary directory per phase")
emit("- lateness figures are ms; claim lateness uses the RunStarted envelope's recorded-at, which is the scheduler tick's `now` (decision instant, before the group commit); commit lateness uses `RunRequest.firedAt`, read after the commit returned")
emit("")

do {
    if options.phases.contains("steady") {
        for rate in options.rates {
            let result = try await runSteady(rate: rate, options: options, http: false)
            emit(report(result, options: options))
        }
    }
    if options.phases.contains("arrival") {
        for rate in options.arrivalRates {
            let result = try await runSteady(rate: rate, options: options, http: true)
            emit(report(result, options: options))
        }
    }
    if options.phases.contains("burst") {
        let text = try await runBurst(options: options)
        emit(text)
    }
    if options.phases.contains("webhooks") {
        // Both kinds of receiver: one that closes every connection (each call pays for a TCP
        // handshake), and one that keeps connections open, as most web servers do.
        emit(try await runWebhooks(options: options, keepAlive: false))
        emit(try await runWebhooks(options: options, keepAlive: true))
    }
    emit("- finished: \(Date()); peak RSS \(peakRSSMiB()) MiB")
} catch {
    FileHandle.standardError.write(Data("bench-scheduler: \(error)\n".utf8))
    exit(1)
}
