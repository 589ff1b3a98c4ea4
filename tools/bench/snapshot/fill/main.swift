// bench-fill: writes a large journal fast, for the snapshot benchmark: TASKS one-time tasks
// due in 2099 (so they never fire), each with PADDING bytes of description, appended through
// the LMDB journal in large batches.
//
//   bench-fill DIR TASKS PADDING
import Engine
import Foundation
import Journal
import Scheduling

let arguments = CommandLine.arguments
guard arguments.count == 4, let tasks = Int(arguments[2]), let padding = Int(arguments[3]) else {
    FileHandle.standardError.write(Data("usage: bench-fill DIR TASKS PADDING\n".utf8))
    exit(64)
}
let directory = arguments[1]
let journal = try LMDBJournal(directory: directory, configuration: .init(mapSize: 64 << 30))
let created = Instant(rfc3339: "2026-11-01T00:00:00Z")!
let due = Instant(rfc3339: "2099-01-01T00:00:00Z")!
let description = String(repeating: "x", count: padding)
var written = 0
while written < tasks {
    let count = min(2048, tasks - written)
    let requests = (written..<(written + count)).map { index in
        let id = TaskID("fill-\(index)")
        let definition = TaskDefinition(
            name: "fill \(index)", description: description, schedule: Schedule(.once(due)),
            action: WebhookAction(url: "http://127.0.0.1:9/fill")
        )
        let event = TaskEvent(taskID: id, at: created, actor: "bench", kind: .created(definition, nextDueAt: due))
        return AppendRequest([event], decidedOn: nil, task: id)
    }
    for result in await journal.append(requests) { _ = try result.get() }
    written += count
}
let info = try journal.storageInfo()
print("bench-fill: \(written) tasks, \(try journal.currentHead()) events, \(info.usedBytes) bytes used")
journal.close()
