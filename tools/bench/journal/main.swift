// bench-journal: durable append throughput with 1, 16 and 256 concurrent appenders, and
// read-all throughput, against a real LMDB journal in a temporary directory.
//
//   swift build -c release --product bench-journal && .build/release/bench-journal [--scale X]
//
// Every append is a single ~100-byte event to the appender's own stream with an exact
// expected version, acknowledged only after its group commit is fsynced.
import Foundation
import Journal

struct Options {
    var scale = 1.0
    var directory: String?
    var indexFlushThreshold: Int?

    init(_ arguments: [String]) {
        var iterator = arguments.dropFirst().makeIterator()
        while let argument = iterator.next() {
            switch argument {
            case "--scale": scale = Double(iterator.next() ?? "") ?? scale
            case "--dir": directory = iterator.next()
            case "--index-flush": indexFlushThreshold = Int(iterator.next() ?? "")
            default:
                print("usage: bench-journal [--scale X] [--dir DIR] [--index-flush N]")
                exit(64)
            }
        }
    }
}

let options = Options(CommandLine.arguments)
let payload = [UInt8](repeating: 0x61, count: 100)
let clock = ContinuousClock()

func seconds(_ duration: Duration) -> Double {
    Double(duration.components.seconds) + Double(duration.components.attoseconds) / 1e18
}

func percentile(_ sorted: [Double], _ p: Double) -> Double {
    sorted.isEmpty ? 0 : sorted[min(sorted.count - 1, Int(Double(sorted.count) * p))]
}

/// Runs `appenders` concurrent appenders, each making `appendsEach` durable appends.
func appendScenario(journal: LMDBJournal, name: String, appenders: Int, appendsEach: Int) async -> String {
    let before = journal.commitStatistics()
    let start = clock.now
    let latencies = await withTaskGroup(of: [Double].self) { group in
        for appender in 0..<appenders {
            group.addTask {
                let stream = StreamID("\(name)-\(appender)")
                var latencies: [Double] = []
                latencies.reserveCapacity(appendsEach)
                for version in 0..<appendsEach {
                    let event = ProposedEvent(type: "BenchAppended", recordedAt: Int64(version), payload: payload)
                    let began = clock.now
                    do {
                        _ = try await journal.append([event], to: stream, expectedVersion: .exactly(UInt64(version)))
                    } catch {
                        print("append failed: \(error)")
                        exit(1)
                    }
                    latencies.append(seconds(clock.now - began) * 1e3)
                }
                return latencies
            }
        }
        var all: [Double] = []
        for await part in group { all.append(contentsOf: part) }
        return all.sorted()
    }
    let elapsed = seconds(clock.now - start)
    let after = journal.commitStatistics()
    let events = appenders * appendsEach
    let commits = after.commits - before.commits
    return String(
        format: "| %d | %d | %.2f | %.0f | %.2f | %.2f | %d | %.1f |",
        appenders, events, elapsed, Double(events) / elapsed,
        percentile(latencies, 0.5), percentile(latencies, 0.99), commits, Double(events) / Double(max(commits, 1))
    )
}

let directory = options.directory ?? FileManager.default.temporaryDirectory.path + "/almanac-bench-\(UUID().uuidString.prefix(8))"
defer { if options.directory == nil { try? FileManager.default.removeItem(atPath: directory) } }
var configuration = LMDBJournal.Configuration(mapSize: 32 << 30)
if let threshold = options.indexFlushThreshold { configuration.indexFlushThreshold = threshold }
let journal = try LMDBJournal(directory: directory, configuration: configuration)

print("## Durable appends (\(ProcessInfo.processInfo.activeProcessorCount) cores)\n")
print("| appenders | events | seconds | events/s | p50 ms | p99 ms | commits | events/commit |")
print("|---:|---:|---:|---:|---:|---:|---:|---:|")
let scale = options.scale
print(await appendScenario(journal: journal, name: "seq", appenders: 1, appendsEach: Int(6_000 * scale)))
print(await appendScenario(journal: journal, name: "c16", appenders: 16, appendsEach: Int(3_000 * scale)))
print(await appendScenario(journal: journal, name: "c256", appenders: 256, appendsEach: Int(4_000 * scale)))

let head = try journal.currentHead()
let readStart = clock.now
var position: UInt64 = 0
var bytes = 0
while position < head {
    let batch = try journal.readEvents(after: position, limit: 4096)
    for event in batch { bytes &+= event.payload.count }
    position = batch.last?.position ?? head
}
let readSeconds = seconds(clock.now - readStart)
print("\n## Read all (decode envelopes, 4,096 per read transaction)\n")
print("| events | seconds | events/s |")
print("|---:|---:|---:|")
print(String(format: "| %llu | %.2f | %.0f |", head, readSeconds, Double(head) / readSeconds))
let info = try journal.storageInfo()
print("\ndata used: \(info.usedBytes / (1 << 20)) MiB for \(head) events (payload bytes read: \(bytes))")
journal.close()
