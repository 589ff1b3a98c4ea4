import Foundation
import Synchronization

/// A child process whose standard output is collected line by line while it runs.
public final class ChildProcess: Sendable {
    private final class Output: Sendable {
        let state = Mutex<(lines: [String], partial: [UInt8], ended: Bool)>(([], [], false))

        func receive(_ data: Data) {
            state.withLock { state in
                state.partial.append(contentsOf: data)
                while let newline = state.partial.firstIndex(of: UInt8(ascii: "\n")) {
                    state.lines.append(String(decoding: state.partial[..<newline], as: UTF8.self))
                    state.partial.removeSubrange(...newline)
                }
                if data.isEmpty { state.ended = true }
            }
        }
    }

    private let process: Process
    private let output = Output()

    /// Starts `executable` with `arguments`; standard error is inherited, or collected with
    /// standard output when `collectingStandardError`. `environment` adds to (or replaces
    /// entries of) this process's environment.
    public init(
        executable: String, arguments: [String], collectingStandardError: Bool = false, environment: [String: String] = [:]
    ) throws {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        if !environment.isEmpty {
            process.environment = ProcessInfo.processInfo.environment.merging(environment) { _, added in added }
        }
        let pipe = Pipe()
        process.standardOutput = pipe
        if collectingStandardError { process.standardError = pipe }
        self.process = process
        try process.run()
        let handle = pipe.fileHandleForReading
        let output = self.output
        let reader = Thread {
            while true {
                let data = handle.availableData
                output.receive(data)
                if data.isEmpty { return }
            }
        }
        reader.start()
    }

    /// The process id.
    public var pid: Int32 { process.processIdentifier }

    /// Every complete line printed so far.
    public var lines: [String] { output.state.withLock { $0.lines } }

    /// Sends `signal` (for example `SIGKILL`) to the process.
    public func send(_ signal: Int32) {
        kill(process.processIdentifier, signal)
    }

    /// Waits for the process to exit and for its output to be read to the end; returns
    /// every complete line it printed, and its exit status.
    public func waitForExit() -> (lines: [String], status: Int32) {
        process.waitUntilExit()
        while !output.state.withLock({ $0.ended }) { usleep(1000) }
        return (lines, process.terminationStatus)
    }

    /// Polls until `predicate` holds for the lines so far, the process ends, or `timeout`
    /// seconds pass; returns whether the predicate held.
    public func waitFor(timeout: Double, _ predicate: ([String]) -> Bool) -> Bool {
        let deadline = ProcessInfo.processInfo.systemUptime + timeout
        while ProcessInfo.processInfo.systemUptime < deadline {
            let (holds, ended) = output.state.withLock { (predicate($0.lines), $0.ended) }
            if holds { return true }
            if ended { return false }
            usleep(2000)
        }
        return false
    }

    /// ``waitForExit()`` for async callers: polls with sleeps that free the thread, so the
    /// concurrency pool (two threads on a two-core machine) stays free for the test's other
    /// work — a blocked pool delays every awaiting task in the process, timers included.
    public func waitForExit() async -> (lines: [String], status: Int32) {
        while process.isRunning { await Self.pause() }
        while !output.state.withLock({ $0.ended }) { await Self.pause() }
        return (lines, process.terminationStatus)
    }

    /// A few milliseconds' sleep that frees the thread (and still waits when cancelled).
    private static func pause() async {
        do { try await Task.sleep(for: .milliseconds(5)) } catch { usleep(5000) }
    }

    /// ``waitFor(timeout:_:)`` for async callers: polls with sleeps that free the thread.
    public func waitFor(timeout: Double, _ predicate: ([String]) -> Bool) async -> Bool {
        let deadline = ProcessInfo.processInfo.systemUptime + timeout
        while ProcessInfo.processInfo.systemUptime < deadline {
            let (holds, ended) = output.state.withLock { (predicate($0.lines), $0.ended) }
            if holds { return true }
            if ended { return false }
            await Self.pause()
        }
        return false
    }
}
