import Engine
import Foundation
import HTTPTypes
import Hummingbird
import Logging
import Journal
import Projections
import Scheduling

/// Task commands and task reads.
extension API {
    static let table: [Route] = [
        Route("healthz", [.get: { api, _, _, _ in api.health() }]),
        Route("readyz", [.get: { api, _, _, _ in await api.ready() }]),
        Route("metrics", [.get: { api, _, _, _ in
            // Counts cover every namespace: a token limited to one does not read them.
            if API.caller.namespace != nil {
                throw Problem(.forbidden, code: "forbidden", title: "The token's role does not allow this",
                              detail: "metrics cover every namespace; use a token without a namespace")
            }
            return await api.metricsText()
        }]),
        Route("v1/openapi.json", [.get: { api, _, _, _ in try api.openAPI() }]),
        Route("v1/tasks", [
            .post: { api, request, _, context in try await api.createTask(request, context: context) },
            .get: { api, request, _, _ in try await api.listTasks(request) },
        ]),
        Route("v1/tasks/:id", [
            .get: { api, request, parameters, _ in try await api.getTask(request, parameters) },
            .put: { api, request, parameters, _ in try await api.replaceTask(request, parameters) },
            .delete: { api, request, parameters, _ in try await api.deleteTask(request, parameters) },
        ]),
        Route("v1/tasks/:id/pause", [.post: { api, request, parameters, _ in
            try await api.simpleCommand(request, parameters, name: "pause", action: .pauseTask)
        }]),
        Route("v1/tasks/:id/resume", [.post: { api, request, parameters, _ in
            try await api.simpleCommand(request, parameters, name: "resume", action: .resumeTask)
        }]),
        Route("v1/tasks/:id/trigger", [.post: { api, request, parameters, _ in try await api.trigger(request, parameters) }]),
        Route("v1/tasks/:id/runs", [.get: { api, request, parameters, _ in try await api.taskRuns(request, parameters) }]),
        Route("v1/tasks/:id/events", [.get: { api, request, parameters, _ in try await api.taskEvents(request, parameters) }]),
        Route("v1/runs", [.get: { api, request, _, _ in try await api.runs(request, task: nil) }]),
        Route("v1/events", [.get: { api, request, _, _ in try await api.events(request) }]),
        Route("v1/schedules/preview", [.post: { api, request, _, _ in try await api.preview(request) }]),
        Route("v1/stream", [.get: { api, request, _, context in try await api.stream(request, context: context) }]),
    ]

    // MARK: - Commands

    func createTask(_ request: Request, context: APIRequestContext) async throws -> Response {
        let body = try await readJSON(request)
        let actor = try actor(request)
        let reason = try reason(request)
        let now = clock.now()
        var id = TaskIDs.generate(at: now)
        let keyReused = { (id: TaskID) in
            Problem(.unprocessableContent, code: "idempotency-key-reused", title: "Idempotency-Key reused",
                    detail: "this Idempotency-Key was first used with a different request (task \(id))")
        }
        let key = request.headers[.idempotencyKey]
        let home = API.caller.namespace ?? TaskDefinition.defaultNamespace
        if let key {
            guard (1...255).contains(key.count) else { throw Problem.invalid("Idempotency-Key", "must be 1 to 255 characters") }
            // Keys are per namespace: another tenant's key names another task.
            let requested = TaskInput.namespace(in: body) ?? home
            // Another tenant's key is not looked up at all: its answer would tell that it exists.
            if let own = API.caller.namespace, requested != own {
                metrics.command("create", result: "invalid")
                throw Problem.invalid("namespace", "this token is limited to the namespace \(own)")
            }
            // A NUL cannot occur in a header value, so "namespace NUL key" never equals a bare key
            // (the default namespace keeps the bare key, as before namespaces).
            id = TaskIDs.derived(fromIdempotencyKey: requested == TaskDefinition.defaultNamespace ? key : requested + "\u{0}" + key)
            if let existing = await store.state(of: id) {
                // A retry: the first result, if the request is the same one.
                guard API.caller.sees(existing.definition.namespace) else { throw keyReused(id) }
                let definition = try TaskInput.definition(
                    from: body, now: nil, defaultNamespace: home, limits: configuration.limits,
                    secrets: SecretSealer(box: configuration.secrets, task: id, existing: existing.definition.action)
                )
                // Matched on everything but secret values: answering "same" or "different" for
                // them would let a caller test guesses at a secret, and after a new secrets key
                // the stored ones no longer open to compare.
                guard definition.secretsHidden == existing.definition.secretsHidden else {
                    metrics.command("create", result: "refused")
                    throw keyReused(id)
                }
                metrics.command("create", result: "noop")
                return taskResponse(existing, status: .created, replayed: true)
            }
        }
        let definition: TaskDefinition
        do {
            definition = try TaskInput.definition(
                from: body, now: now, defaultNamespace: home, limits: configuration.limits,
                secrets: SecretSealer(box: configuration.secrets, task: id, existing: nil)
            )
            try checkNamespace(definition)
        } catch {
            metrics.command("create", result: "invalid")
            throw error
        }
        try await checkAddress(definition, command: "create")
        let namespace = definition.namespace
        // Reservations first, then the projection (read as the command reads the task's
        // state, in one step on the store): see CreationQuota.
        let reserved = quota.reserve(namespace)
        defer { quota.release(namespace) }
        let limit = configuration.limits.maxTasksPerNamespace
        let newID = id
        let outcome: CommandService.Outcome
        do {
            outcome = try await execute(
                TaskCommand(taskID: id, actor: actor, reason: reason, action: .createTask(definition)), name: "create"
            ) { projection in
                // A task that exists already (a retried create racing the first) adds nothing:
                // the command finds it and answers as a retry does.
                guard projection.tasks.index(forKey: newID) == nil else { return }
                let held = projection.liveTasksByNamespace[namespace] ?? 0
                guard held + reserved > limit else { return }
                throw Problem(
                    .conflict, code: "namespace-full", title: "The namespace holds as many tasks as it may",
                    detail: held >= limit
                        ? "namespace \(namespace) holds \(held) tasks, its limit (--max-tasks-per-namespace); delete some first"
                        : "namespace \(namespace) holds \(held) tasks and \(reserved - 1) more are being created, its limit of \(limit) (--max-tasks-per-namespace); try again"
                )
            }
        } catch let error as DomainError where error.code == .taskAlreadyExists && key != nil {
            // Two requests with one key raced, with different bodies: this one came second.
            throw keyReused(id)
        }
        guard let state = outcome.state else { throw Problem.notFound("task \(id) vanished") }
        context.logger.debug("task created", metadata: ["task.id": "\(id)", "position": "\(outcome.position)"])
        return taskResponse(state, status: .created, replayed: outcome.events.isEmpty)
    }

    func replaceTask(_ request: Request, _ parameters: [String: String]) async throws -> Response {
        let id = try taskID(parameters)
        let body = try await readJSON(request)
        let expected = try ifMatch(request)
        let existing = try await visibleState(id)
        let definition: TaskDefinition
        do {
            definition = try TaskInput.definition(
                from: body, now: clock.now(), defaultNamespace: existing.definition.namespace, limits: configuration.limits,
                secrets: SecretSealer(box: configuration.secrets, task: id, existing: existing.definition.action)
            )
            guard definition.namespace == existing.definition.namespace else {
                throw Problem.invalid("namespace", "a task stays in the namespace it was created in (\(existing.definition.namespace))")
            }
        } catch {
            metrics.command("update", result: "invalid")
            throw error
        }
        try await checkAddress(definition, command: "update")
        try await execute(
            TaskCommand(taskID: id, actor: try actor(request), reason: try reason(request), action: .updateTask(definition)),
            name: "update", expectedVersion: expected
        )
        return try await currentTask(id)
    }

    func deleteTask(_ request: Request, _ parameters: [String: String]) async throws -> Response {
        let id = try taskID(parameters)
        try await ensureVisible(id)
        let expected = try ifMatch(request)
        try await execute(
            TaskCommand(taskID: id, actor: try actor(request), reason: try reason(request), action: .deleteTask),
            name: "delete", expectedVersion: expected
        )
        return Response(status: .noContent)
    }

    func simpleCommand(_ request: Request, _ parameters: [String: String], name: String, action: TaskCommand.Action) async throws -> Response {
        let id = try taskID(parameters)
        try await ensureVisible(id)
        let expected = try ifMatch(request)
        try await execute(
            TaskCommand(taskID: id, actor: try actor(request), reason: try reason(request), action: action),
            name: name, expectedVersion: expected
        )
        return try await currentTask(id)
    }

    func trigger(_ request: Request, _ parameters: [String: String]) async throws -> Response {
        let id = try taskID(parameters)
        try await ensureVisible(id)
        let expected = try ifMatch(request)
        var trigger = TaskIDs.generate(at: clock.now()).rawValue
        if let key = request.headers[.idempotencyKey] {
            guard (1...128).contains(key.count), TaskID(key).isValid || key.utf8.allSatisfy({ $0 > 0x20 && $0 < 0x7F }) else {
                throw Problem.invalid("Idempotency-Key", "must be 1 to 128 visible ASCII characters")
            }
            trigger = key
        }
        try await execute(
            TaskCommand(taskID: id, actor: try actor(request), reason: try reason(request), action: .triggerTask(trigger: trigger)),
            name: "trigger", expectedVersion: expected
        )
        let occurrence = OccurrenceID.manual(id, trigger: trigger)
        var headers = HTTPFields()
        headers[.location] = "/v1/tasks/\(id)/runs"
        return json(.accepted, .object([
            ("taskId", .string(id.rawValue)),
            ("triggerId", .string(trigger)),
            ("occurrenceId", .string(occurrence.rawValue)),
        ]), headers: headers)
    }

    /// The task events among `events` that `caller` may see (never reserved streams).
    func visibleEvents(_ events: [RecordedEvent], to caller: Caller) async throws -> [RecordedEvent] {
        let tasks = events.filter { !$0.streamID.isReserved }
        guard caller.namespace != nil, let last = tasks.last else { return tasks }
        // Judge on a projection that has applied these events: a task created in this very
        // batch is not in it before (the journal's tail runs ahead of the projection).
        try await store.catchUp(through: last.position)
        let ids = Set(tasks.map(\.streamID))
        let seen: Set<StreamID> = await store.read { projection in
            Set(ids.filter { id in projection.tasks[TaskID(id.rawValue)].map { caller.sees($0.definition.namespace) } ?? false })
        }
        return tasks.filter { seen.contains($0.streamID) }
    }

    /// Refuses (422 on `action.url`) a webhook URL whose host is, or resolves to, an address
    /// the policy refuses. A name that does not resolve yet passes: every call checks again.
    func checkAddress(_ definition: TaskDefinition, command: String) async throws {
        if case .refused(let refusal) = await configuration.addressPolicy.judge(url: definition.action.url) {
            metrics.command(command, result: "invalid")
            throw Problem.invalid("action.url", refusal)
        }
    }

    @discardableResult
    func execute(
        _ command: TaskCommand, name: String, expectedVersion: UInt64? = nil,
        check: (@Sendable (borrowing Projection) throws -> Void)? = nil
    ) async throws -> CommandService.Outcome {
        do {
            let outcome = try await commands.execute(command, expectedVersion: expectedVersion, check: check)
            metrics.command(name, result: outcome.events.isEmpty ? "noop" : "ok")
            return outcome
        } catch let problem as Problem {
            // A check's refusal (a namespace full, say).
            metrics.command(name, result: "refused")
            throw problem
        } catch let error as DomainError {
            metrics.command(name, result: "refused")
            throw error
        } catch let error as VersionMismatch {
            metrics.command(name, result: "refused")
            throw error
        } catch {
            metrics.command(name, result: "error")
            throw error
        }
    }

    // MARK: - Reads

    func taskResponse(_ state: TaskState, status: HTTPResponse.Status = .ok, replayed: Bool = false) -> Response {
        var headers = HTTPFields()
        headers[.eTag] = API.etag(state.version)
        if status == .created { headers[.location] = "/v1/tasks/\(state.id)" }
        if replayed { headers[.idempotentReplayed] = "true" }
        return json(status, Representation.task(state), headers: headers)
    }

    func currentTask(_ id: TaskID) async throws -> Response {
        taskResponse(try await visibleState(id))
    }

    /// The task's state, when the caller may see it: another namespace's task answers 404
    /// exactly like a task that does not exist, so existence does not leak.
    func visibleState(_ id: TaskID) async throws -> TaskState {
        guard let state = await store.state(of: id), API.caller.sees(state.definition.namespace) else {
            throw Problem.notFound("no task has the id \(id)")
        }
        return state
    }

    /// Throws 404 unless the caller may see the task (nothing to check for an unrestricted
    /// caller: the command itself answers 404 for a task that does not exist).
    func ensureVisible(_ id: TaskID) async throws {
        if API.caller.namespace != nil { _ = try await visibleState(id) }
    }

    /// A namespaced caller creates tasks in its own namespace only.
    func checkNamespace(_ definition: TaskDefinition) throws {
        if let own = API.caller.namespace, definition.namespace != own {
            throw Problem.invalid("namespace", "this token is limited to the namespace \(own)")
        }
    }

    func getTask(_ request: Request, _ parameters: [String: String]) async throws -> Response {
        let id = try taskID(parameters)
        guard let asOf = request.uri.queryParameters.get("asOf") else { return try await currentTask(id) }
        // The task as it was at a journal position or an instant: its stream folded up to there.
        let position = UInt64(asOf)
        let instant = position == nil ? Instant(rfc3339: asOf) : nil
        guard position != nil || instant != nil else {
            throw Problem.invalid("asOf", "must be a journal position or an RFC 3339 instant")
        }
        var state: TaskState?
        var version: UInt64 = 0
        reading: while true {
            let batch = try await journal.read(stream: .init(id.rawValue), after: version, limit: 1024)
            if batch.isEmpty { break }
            for recorded in batch {
                if let position, recorded.position > position { break reading }
                if let instant, recorded.recordedAt > instant.microsecondsSinceEpoch { break reading }
                let event = try EventCodec.decode(
                    type: recorded.type, schemaVersion: recorded.schemaVersion, payload: recorded.payload,
                    taskID: id, at: Instant(microsecondsSinceEpoch: recorded.recordedAt)
                )
                state = TaskState.evolve(state, event)
                version = recorded.streamVersion
            }
        }
        // The namespace never changes: the current one decides who may look back.
        _ = try await visibleState(id)
        guard let state else { throw Problem.notFound("task \(id) did not exist at \(asOf)") }
        return taskResponse(state)
    }

    func listTasks(_ request: Request) async throws -> Response {
        let query = request.uri.queryParameters
        var statuses: Set<TaskStatus> = [.active, .paused, .completed]
        let statusValues = query.getAll("status").flatMap { $0.split(separator: ",", omittingEmptySubsequences: false) }
        if !statusValues.isEmpty {
            statuses = []
            for value in statusValues {
                guard let status = TaskStatus(rawValue: String(value)) else {
                    throw Problem.invalid("status", "\"\(value)\" is not a status; use active, paused, completed or deleted")
                }
                statuses.insert(status)
            }
        }
        var labels: [(String, String?)] = []
        for value in query.getAll("label") {
            let parts = value.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            guard let key = parts.first, !key.isEmpty else { throw Problem.invalid("label", "write key=value or key") }
            labels.append((String(key), parts.count > 1 ? String(parts[1]) : nil))
        }
        let prefix = query.get("namePrefix").map { String($0) } ?? ""
        let namespaceFilter = query.get("namespace").map { String($0) }
        let caller = API.caller
        let limit = try queryInteger(request, "limit", default: 100, range: 1...1000)
        let after = try queryCursor(request)
        let page: [TaskState] = await store.read { projection in
            // The namespace and the labels are fields tasks of one template share: judged once
            // per shared object, not once per task (a rare label in a million tasks).
            var verdicts: [ObjectIdentifier: Bool] = [:]
            return projection.tasks.first(limit + 1, after: after) { state in
                guard statuses.contains(state.status), state.definition.name.hasPrefix(prefix) else { return false }
                let definition = state.definition
                if let verdict = verdicts[definition.commonFieldsIdentity] { return verdict }
                let verdict = caller.sees(definition.namespace) && (namespaceFilter.map { $0 == definition.namespace } ?? true)
                    && labels.allSatisfy { key, value in
                        guard let actual = definition.labels[key] else { return false }
                        return value == nil || actual == value
                    }
                verdicts[definition.commonFieldsIdentity] = verdict
                return verdict
            }
        }
        let items = page.prefix(limit)
        let next = page.count > limit ? items.last.map { JSONOut.string(API.cursor($0.id.rawValue)) } ?? .null : .null
        return json(.ok, .object([("items", .array(items.map(Representation.task))), ("nextCursor", next)]))
    }

    func taskRuns(_ request: Request, _ parameters: [String: String]) async throws -> Response {
        let id = try taskID(parameters)
        _ = try await visibleState(id)
        return try await runs(request, task: id)
    }

    /// Runs newest first (by start, then id), from the run log kept in memory (the most
    /// recent runs of each task; the journal keeps them all).
    func runs(_ request: Request, task: TaskID?) async throws -> Response {
        let query = request.uri.queryParameters
        var taskFilter = task
        if task == nil, let text = query.get("taskId") { taskFilter = TaskID(String(text)) }
        var outcome: RunRecord.Outcome?
        if let text = query.get("outcome") {
            guard let value = RunRecord.Outcome(rawValue: String(text)) else {
                throw Problem.invalid("outcome", "must be one of \(RunRecord.Outcome.allCases.map(\.rawValue).joined(separator: ", "))")
            }
            outcome = value
        }
        let since = try queryInstant(request, "since")
        let until = try queryInstant(request, "until")
        let limit = try queryInteger(request, "limit", default: 100, range: 1...1000)
        var filter = RunFilter(outcome: outcome, since: since, until: until)
        if let cursor = try queryCursor(request) {
            let parts = cursor.split(separator: " ", maxSplits: 1)
            guard parts.count == 2, let micros = Int64(parts[0]) else { throw Problem.invalid("cursor", "is not a cursor this API returned") }
            filter.before = (Instant(microsecondsSinceEpoch: micros), String(parts[1]))
        }
        let caller = API.caller
        let page: [(TaskID, RunRecord)] = await store.read { projection in
            let tasks = projection.tasks
            // Of tasks in the table, or of the one asked for; in the caller's namespace, for a
            // namespaced caller.
            let sees: ((TaskID) -> Bool)?
            if caller.namespace != nil {
                sees = { id in tasks.index(forKey: id).map { caller.sees(tasks[$0].definition.namespace) } ?? false }
            } else {
                sees = taskFilter == nil ? { tasks.index(forKey: $0) != nil } : nil
            }
            return projection.runLog.newest(limit + 1, matching: filter, of: taskFilter.map { [$0] }, includes: sees).map { ($0.task, $0.record) }
        }
        let items = page.prefix(limit)
        var next = JSONOut.null
        if page.count > limit, let last = items.last {
            next = .string(API.cursor("\(last.1.startedAt.microsecondsSinceEpoch) \(last.1.run.rawValue)"))
        }
        // The run log keeps where each record's error, excerpt and skip reason are, not the texts.
        let detailed = try await RunRecord.withDetails(items.map(\.1), from: journal)
        return json(.ok, .object([
            ("items", .array(zip(items, detailed).map { Representation.run($1, task: $0.0) })),
            ("nextCursor", next),
        ]))
    }

    func taskEvents(_ request: Request, _ parameters: [String: String]) async throws -> Response {
        let id = try taskID(parameters)
        let after = try queryPosition(request, "after")
        let limit = try queryInteger(request, "limit", default: 100, range: 1...1000)
        _ = try await visibleState(id)
        let events = try await journal.read(stream: .init(id.rawValue), after: after, limit: limit)
        return json(.ok, .object([
            ("items", .array(events.map(Representation.event))),
            ("nextAfter", events.last.map { .uint($0.streamVersion) } ?? .uint(after)),
        ]))
    }

    func events(_ request: Request) async throws -> Response {
        let after = try queryPosition(request, "after")
        let limit = try queryInteger(request, "limit", default: 100, range: 1...1000)
        let events = try await journal.read(after: after, limit: limit)
        let visible = try await visibleEvents(events, to: API.caller)
        return json(.ok, .object([
            // Reserved streams (tokens) are not task events; the position still moves past them.
            ("items", .array(visible.map(Representation.event))),
            ("nextAfter", events.last.map { .uint($0.position) } ?? .uint(after)),
        ]))
    }
}

extension TaskDefinition {
    /// The definition with every secret value replaced by one placeholder: equal for two
    /// definitions that differ only in the values of their secrets.
    var secretsHidden: TaskDefinition {
        var hidden = self
        let placeholder = SealedSecret(text: "")
        hidden.action.headers = action.headers.map { $0.isSecret ? .init(name: $0.name, sealed: placeholder) : $0 }
        if action.signingSecret != nil { hidden.action.signingSecret = placeholder }
        return hidden
    }
}
