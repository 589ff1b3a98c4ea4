import AlmanacTesting
import Engine
import Journal
import Projections
import Scheduling
import Testing

/// The command service's version checks when its projection lags the journal.
@Suite("Command service")
struct CommandServiceTests {
    @Test func anIfMatchOnAVersionTheProjectionHasNotAppliedYetIsJudgedAfterCatchingUp() async throws {
        try await EngineFixture.with(executor: RecordingExecutor()) { engine in
            try await engine.run("a", .createTask(everyMinute("a")))
            // Another writer (a second process) pauses the task; this process has not seen it.
            let otherStore = ProjectionStore(journal: engine.journal)
            try await otherStore.catchUp()
            let other = CommandService(journal: engine.journal, store: otherStore, clock: engine.clock)
            let paused = try await other.execute(TaskCommand(taskID: "a", actor: "bob", action: .pauseTask))
            #expect(paused.version == 2)
            #expect(await engine.store.state(of: "a")?.version == 1)
            // A caller who saw version 2 (on the stream) resumes on it: accepted, not a 412.
            let resumed = try await engine.commands.execute(
                TaskCommand(taskID: "a", actor: "alice", action: .resumeTask), expectedVersion: 2
            )
            #expect(resumed.version == 3)
            // A version that really is stale is still refused.
            await #expect(throws: VersionMismatch.self) {
                try await engine.commands.execute(TaskCommand(taskID: "a", actor: "alice", action: .pauseTask), expectedVersion: 2)
            }
        }
    }
}
