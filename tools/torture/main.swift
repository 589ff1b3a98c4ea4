// journal-torture: appends to an LMDB journal in a loop and prints one line per
// acknowledged append, so a test can kill it at any instant and check that every
// acknowledgement survived.
//
//   journal-torture DIR [APPENDERS] [MAP_SIZE_BYTES] [INDEX_FLUSH_THRESHOLD]
//
// Output: "ready HEAD", then "ack STREAM VERSION FIRST LAST" after each durable append.
import Foundation
import AlmanacTesting
import Journal

func tortureLine(_ text: String) {
    let line = text + "\n"
    line.utf8CString.withUnsafeBufferPointer { buffer in
        var offset = 0
        let count = buffer.count - 1
        while offset < count {
            let written = write(1, buffer.baseAddress! + offset, count - offset)
            if written <= 0 { exit(3) }
            offset += written
        }
    }
}

let arguments = CommandLine.arguments
guard arguments.count >= 2 else {
    FileHandle.standardError.write(Data("usage: journal-torture DIR [APPENDERS] [MAP_SIZE_BYTES] [INDEX_FLUSH_THRESHOLD]\n".utf8))
    exit(64)
}
let directory = arguments[1]
let appenders = arguments.count > 2 ? Int(arguments[2]) ?? 8 : 8
let mapSize = arguments.count > 3 ? Int(arguments[3]) ?? (1 << 30) : (1 << 30)
let indexFlushThreshold = arguments.count > 4 ? Int(arguments[4]) ?? 8_192 : 8_192

let journal: LMDBJournal
do {
    journal = try LMDBJournal(directory: directory, configuration: .init(mapSize: mapSize, indexFlushThreshold: indexFlushThreshold))
    tortureLine("ready \(try journal.currentHead())")
} catch {
    FileHandle.standardError.write(Data("journal-torture: \(error)\n".utf8))
    exit(1)
}

await withTaskGroup(of: Void.self) { group in
    for index in 0..<appenders {
        group.addTask {
            let stream = StreamID("torture-\(index)")
            do {
                var version = try await journal.version(of: stream)
                var counter = 0
                while true {
                    counter += 1
                    // Every fourth append carries three events; the rest one.
                    let count = counter % 4 == 0 ? 3 : 1
                    let events = (1...count).map { offset in
                        ProposedEvent(
                            type: "TortureAppended",
                            recordedAt: Int64(version) + Int64(offset),
                            payload: TorturePayload.bytes(stream: stream, version: version + UInt64(offset))
                        )
                    }
                    let result = try await journal.append(events, to: stream, expectedVersion: .exactly(version))
                    version = result.streamVersion
                    tortureLine("ack \(stream) \(result.streamVersion) \(result.firstPosition) \(result.lastPosition)")
                }
            } catch {
                FileHandle.standardError.write(Data("journal-torture: \(error)\n".utf8))
                exit(2)
            }
        }
    }
}
