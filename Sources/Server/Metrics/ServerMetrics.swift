public import Journal
public import Prometheus
import Synchronization
import Scheduling

/// The server's Prometheus metrics. Counters are bumped as things happen; gauges that
/// describe current state (journal size, in-flight runs, due-index size) are read at scrape.
public final class ServerMetrics: Sendable {
    /// The registry `/metrics` renders.
    public let registry = PrometheusCollectorRegistry()
    private let lateness: DurationHistogram
    private let latencyBuckets: [Duration] = [
        .microseconds(100), .microseconds(250), .microseconds(500), .milliseconds(1), .milliseconds(2),
        .milliseconds(5), .milliseconds(10), .milliseconds(25), .milliseconds(50), .milliseconds(100),
        .milliseconds(250), .milliseconds(500), .seconds(1), .seconds(5),
    ]

    public init() {
        lateness = registry.makeDurationHistogram(
            descriptor: MetricNameDescriptor(
                metricName: "almanac_run_lateness_seconds", unitName: "",
                helpText: "How late each attempt was claimed: claim instant minus due instant."),
            buckets: [
                .milliseconds(1), .milliseconds(2), .milliseconds(5), .milliseconds(10), .milliseconds(25),
                .milliseconds(50), .milliseconds(100), .milliseconds(250), .milliseconds(500), .seconds(1),
                .seconds(5), .seconds(30), .seconds(60), .seconds(300),
            ]
        )
        rateLimitedRequests = registry.makeCounter(
            descriptor: MetricNameDescriptor(
                metricName: "almanac_rate_limited_total", unitName: "",
                helpText: "Requests refused with 429 by the per-caller rate limit.")
        )
    }

    /// Handles already made, so a request costs one dictionary lookup rather than a
    /// registry lookup that formats and checks its labels.
    private let requestCounters = Mutex<[RequestKey: Counter]>([:])
    private let requestHistograms = Mutex<[String: DurationHistogram]>([:])

    private struct RequestKey: Hashable {
        let route: String
        let method: String
        let status: Int
    }

    /// One HTTP request answered.
    func request(route: String, method: String, status: Int, duration: Duration) {
        let key = RequestKey(route: route, method: method, status: status)
        let counter = requestCounters.withLock { counters in
            if let counter = counters[key] { return counter }
            let counter = registry.makeCounter(
                descriptor: describe("almanac_http_requests_total", "HTTP requests answered, by route template, method and status."),
                labels: [("route", route), ("method", method), ("status", String(status))]
            )
            counters[key] = counter
            return counter
        }
        counter.increment()
        let histogram = requestHistograms.withLock { histograms in
            if let histogram = histograms[route] { return histogram }
            let histogram = registry.makeDurationHistogram(
                descriptor: describe("almanac_http_request_duration_seconds", "Time from request to response head, by route template."),
                labels: [("route", route)], buckets: latencyBuckets
            )
            histograms[route] = histogram
            return histogram
        }
        histogram.recordNanoseconds(duration.wholeMicroseconds * 1000)
    }

    private let commandCounters = Mutex<[String: Counter]>([:])
    private let rateLimitedRequests: Counter

    /// One request refused by the rate limit.
    func rateLimited() {
        rateLimitedRequests.increment()
    }

    /// One command handled through the API.
    func command(_ action: String, result: String) {
        let counter = commandCounters.withLock { counters in
            let key = action + " " + result
            if let counter = counters[key] { return counter }
            let counter = registry.makeCounter(
                descriptor: describe(
                    "almanac_commands_total", "Commands received through the API, by action and result (ok, noop, refused, invalid, error)."),
                labels: [("action", action), ("result", result)]
            )
            counters[key] = counter
            return counter
        }
        counter.increment()
    }

    /// Counts a committed event (called for every event the server's journal observer sees).
    public func observe(_ recorded: RecordedEvent) {
        let appended = eventCounters.withLock { counters in
            if let counter = counters[recorded.type] { return counter }
            let counter = registry.makeCounter(
                descriptor: describe("almanac_events_appended_total", "Events appended to the journal since the server started, by type."),
                labels: [("type", recorded.type)]
            )
            counters[recorded.type] = counter
            return counter
        }
        appended.increment()
        let outcome: String?
        switch recorded.type {
        case "RunStarted": outcome = "started"
        case "RunSucceeded": outcome = "succeeded"
        case "RunFailed": outcome = "failed"
        case "RunRetryScheduled": outcome = "retrying"
        case "OccurrenceSkipped": outcome = "skipped"
        default: outcome = nil
        }
        guard let outcome else { return }
        if recorded.type == "RunStarted" || recorded.type == "RunFailed",
            let event = try? EventCodec.decode(
                type: recorded.type, schemaVersion: recorded.schemaVersion, payload: recorded.payload,
                taskID: TaskID(recorded.streamID.rawValue), at: Instant(microsecondsSinceEpoch: recorded.recordedAt))
        {
            if case .runStarted(let start) = event.kind {
                lateness.record(max(.zero, event.at - start.dueAt))
            }
            if case .runFailed(_, _, true) = event.kind {
                runs("interrupted")
                return
            }
        }
        runs(outcome)
    }

    private func runs(_ outcome: String) {
        let counter = runCounters.withLock { counters in
            if let counter = counters[outcome] { return counter }
            let counter = registry.makeCounter(
                descriptor: describe("almanac_runs_total", "Run transitions since the server started: started, succeeded, failed, interrupted, retrying, skipped."),
                labels: [("outcome", outcome)]
            )
            counters[outcome] = counter
            return counter
        }
        counter.increment()
    }

    /// Counters looked up once each (the registry builds a key from the labels at every call).
    private let eventCounters = Mutex<[String: Counter]>([:])
    private let runCounters = Mutex<[String: Counter]>([:])

    private func describe(_ name: String, _ help: String) -> MetricNameDescriptor {
        MetricNameDescriptor(metricName: name, unitName: "", helpText: help)
    }

    /// Sets a gauge to its current value.
    func gauge(_ name: String, _ value: Double, help: String) {
        registry.makeGauge(descriptor: describe(name, help)).set(value)
    }
}
