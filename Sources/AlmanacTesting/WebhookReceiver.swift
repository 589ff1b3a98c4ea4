public import Foundation
import NIOCore
import NIOHTTP1
import NIOPosix
import Synchronization

/// A real HTTP server on 127.0.0.1 (an ephemeral port) that records every request it gets
/// and answers as the test says: the receiver end of webhook tests.
public final class WebhookReceiver: Sendable {
    /// One request as it arrived.
    public struct Received: Sendable {
        /// The method, e.g. `POST`.
        public let method: String
        /// The request target, e.g. `/hook?x=1`.
        public let uri: String
        /// Headers in order.
        public let headers: [(name: String, value: String)]
        /// The body as text.
        public let body: String
        /// When the request was complete (the wall clock: this is test support).
        public let arrivedAt: Date

        /// The first value of header `name` (case-insensitive).
        public func header(_ name: String) -> String? {
            headers.first { $0.name.lowercased() == name.lowercased() }?.value
        }
    }

    /// How to answer a request.
    public struct Reply: Sendable {
        /// The status code.
        public var status: Int
        /// The response body.
        public var body: String
        /// Extra headers.
        public var headers: [(String, String)]
        /// How long to wait before answering.
        public var delay: Duration

        /// Creates a reply.
        public init(status: Int = 200, body: String = "ok", headers: [(String, String)] = [], delay: Duration = .zero) {
            self.status = status
            self.body = body
            self.headers = headers
            self.delay = delay
        }
    }

    private let channel: any Channel
    private let log: Log

    /// The port it listens on.
    public let port: Int

    /// Starts a receiver whose answers `reply` chooses from each request's path. It closes
    /// each connection after answering unless `keepAlive`, when it keeps connections open for
    /// further requests, as most web servers do.
    public static func start(
        keepAlive: Bool = false, reply: @escaping @Sendable (_ path: String) -> Reply = { _ in Reply() }
    ) async throws -> WebhookReceiver {
        let log = Log()
        let channel = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.configureHTTPServerPipeline()
                    try channel.pipeline.syncOperations.addHandler(Handler(log: log, keepAlive: keepAlive, reply: reply))
                }
            }
            .bind(host: "127.0.0.1", port: 0)
            .get()
        return WebhookReceiver(channel: channel, log: log)
    }

    private init(channel: any Channel, log: Log) {
        self.channel = channel
        self.log = log
        self.port = channel.localAddress?.port ?? 0
    }

    /// The URL of `path` on this receiver.
    public func url(_ path: String = "/hook") -> String { "http://127.0.0.1:\(port)\(path)" }

    /// Every request received so far.
    public var received: [Received] { log.entries.withLock { $0 } }

    /// Stops listening.
    public func stop() async throws {
        try await channel.close()
    }

    /// Yields until `count` requests have arrived or `timeout` seconds pass.
    public func waitForRequests(_ count: Int, timeout: Double = 10) async -> Bool {
        let deadline = Date().addingTimeInterval(timeout)
        while Date() < deadline {
            if received.count >= count { return true }
            try? await Task.sleep(for: .milliseconds(2))
        }
        return received.count >= count
    }

    final class Log: Sendable {
        let entries = Mutex<[Received]>([])
    }

    // @unchecked: a handler lives on its channel's event loop, and the delayed reply that
    // captures it is scheduled on that same loop (NIOLoopBound checks the context's side).
    final class Handler: ChannelInboundHandler, @unchecked Sendable {
        typealias InboundIn = HTTPServerRequestPart
        typealias OutboundOut = HTTPServerResponsePart

        let log: Log
        let keepAlive: Bool
        let reply: @Sendable (String) -> Reply
        var head: HTTPRequestHead?
        var body = ByteBuffer()

        init(log: Log, keepAlive: Bool, reply: @escaping @Sendable (String) -> Reply) {
            self.log = log
            self.keepAlive = keepAlive
            self.reply = reply
        }

        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            switch unwrapInboundIn(data) {
            case .head(let requestHead):
                head = requestHead
                body.clear()
            case .body(var chunk):
                body.writeBuffer(&chunk)
            case .end:
                guard let head else { return }
                let text = body.readString(length: body.readableBytes) ?? ""
                log.entries.withLock {
                    $0.append(Received(
                        method: head.method.rawValue, uri: head.uri,
                        headers: head.headers.map { ($0.name, $0.value) }, body: text, arrivedAt: Date()
                    ))
                }
                let path = String(head.uri.split(separator: "?", maxSplits: 1).first ?? "")
                let answer = reply(path)
                let bound = NIOLoopBound(context, eventLoop: context.eventLoop)
                let close = !keepAlive || !head.isKeepAlive
                let respond: @Sendable () -> Void = {
                    let context = bound.value
                    var headers = HTTPHeaders()
                    headers.add(name: "Content-Length", value: String(answer.body.utf8.count))
                    if close { headers.add(name: "Connection", value: "close") }
                    for (name, value) in answer.headers { headers.add(name: name, value: value) }
                    let responseHead = HTTPResponseHead(
                        version: .http1_1, status: HTTPResponseStatus(statusCode: answer.status), headers: headers
                    )
                    context.write(NIOAny(HTTPServerResponsePart.head(responseHead)), promise: nil)
                    context.write(NIOAny(HTTPServerResponsePart.body(.byteBuffer(ByteBuffer(string: answer.body)))), promise: nil)
                    context.writeAndFlush(NIOAny(HTTPServerResponsePart.end(nil))).whenComplete { _ in
                        if close { bound.value.close(promise: nil) }
                    }
                }
                if answer.delay > .zero {
                    let (seconds, attoseconds) = answer.delay.components
                    let nanoseconds = seconds * 1_000_000_000 + attoseconds / 1_000_000_000
                    context.eventLoop.scheduleTask(in: .nanoseconds(nanoseconds)) { respond() }
                } else {
                    respond()
                }
            }
        }
    }
}
