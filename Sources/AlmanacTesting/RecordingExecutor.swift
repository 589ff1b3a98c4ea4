public import Engine
public import Scheduling
import Synchronization

/// An executor for scheduler tests: records every attempt it is handed and answers with the
/// result a test chose (by default, success with status 200).
public final class RecordingExecutor: RunExecutor {
    private let state = Mutex<(requests: [RunRequest], answers: [RunResult])>(([], []))
    private let defaultResult: RunResult

    /// Creates an executor that answers `defaultResult` unless told otherwise.
    public init(defaultResult: RunResult = .succeeded(RunOutcome(statusCode: 200, duration: .milliseconds(5)))) {
        self.defaultResult = defaultResult
    }

    /// Queues answers for the next attempts, in order.
    public func answer(_ results: RunResult...) {
        state.withLock { $0.answers.append(contentsOf: results) }
    }

    /// Every attempt handed over so far, in order.
    public var requests: [RunRequest] { state.withLock { $0.requests } }

    public func execute(_ request: RunRequest) async -> RunResult {
        state.withLock { state in
            state.requests.append(request)
            return state.answers.isEmpty ? defaultResult : state.answers.removeFirst()
        }
    }
}
