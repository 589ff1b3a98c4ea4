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

    /// A batch (how run outcomes are recorded in a burst) decides commands on one task in
    /// order, reports refusals, and hands back the commands that lost a race for their task.
    @Test func aBatchChainsCommandsOnOneTaskReportsRefusalsAndHandsBackLostRaces() async throws {
        try await EngineFixture.with(executor: RecordingExecutor()) { engine in
            for id in ["a", "b", "c"] { try await engine.run(TaskID(id), .createTask(everyMinute(id))) }
            // Another process pauses c; this process has not seen it.
            let otherStore = ProjectionStore(journal: engine.journal)
            try await otherStore.catchUp()
            try await CommandService(journal: engine.journal, store: otherStore, clock: engine.clock)
                .execute(TaskCommand(taskID: "c", actor: "bob", action: .pauseTask))
            let results = await engine.commands.executeBatch([
                TaskCommand(taskID: "a", actor: "alice", action: .pauseTask),
                TaskCommand(taskID: "b", actor: "alice", action: .resumeTask),
                TaskCommand(taskID: "a", actor: "alice", action: .resumeTask),
                TaskCommand(taskID: "c", actor: "alice", action: .triggerTask(trigger: "t1")),
                TaskCommand(taskID: "a", actor: "alice", action: .pauseTask),
            ])
            #expect(results[0] == .done && results[2] == .done && results[4] == .done, "\(results)")
            guard case .refused(let reason) = results[1] else { Issue.record("\(results[1])"); return }
            #expect(reason.contains("active") || reason.contains("paused"), "\(reason)")
            #expect(results[3] == .retry)
            #expect(try await engine.names(of: "a") == ["TaskCreated", "TaskPaused", "TaskResumed", "TaskPaused"])
            #expect(await engine.store.state(of: "a")?.version == 4)
            #expect(await engine.store.state(of: "a")?.status == .paused)
            #expect(try await engine.names(of: "b") == ["TaskCreated"])
            // Nothing of c was appended by the batch; on its own, the command is decided again.
            #expect(try await engine.names(of: "c") == ["TaskCreated", "TaskPaused"])
            try await engine.commands.execute(TaskCommand(taskID: "c", actor: "alice", action: .triggerTask(trigger: "t1")))
            #expect(try await engine.names(of: "c") == ["TaskCreated", "TaskPaused", "RunTriggered"])
        }
    }
}
