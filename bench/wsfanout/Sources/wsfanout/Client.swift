import NIOCore
import NIOHTTP1
import NIOPosix
import NIOWebSocket
import Synchronization

/// One received text message: when it reached the handler, and the fields the analysis needs
/// (nil: not a JSON object).
struct Received: Sendable {
    let nanos: UInt64
    let fields: StockFields?
}

/// What one client received. Written on its channel's event loop, read by the main thread at
/// the end (the lock is uncontended: tens of nanoseconds).
final class Inbox: Sendable {
    let messages = Mutex<[Received]>([])
    let closedByServer = Atomic<Bool>(false)

    init(expected: Int) {
        messages.withLock { $0.reserveCapacity(expected) }
    }
}

/// How many clients have received at least `want` messages (the drain's stop condition).
final class Progress: Sendable {
    let want: Int
    let complete = Atomic<Int>(0)

    init(want: Int) { self.want = want }
}

/// The fan-out client's WebSocket handler. The receive time is taken here, on the event loop,
/// as each frame comes out of NIO's frame decoder; the message is scanned for type, stock and
/// seq only, then recorded.
final class FanoutHandler: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = WebSocketFrame
    typealias OutboundOut = WebSocketFrame

    private let inbox: Inbox
    private let progress: Progress
    private let subscribe: String?
    private var count = 0

    init(inbox: Inbox, progress: Progress, subscribe: String?) {
        self.inbox = inbox
        self.progress = progress
        self.subscribe = subscribe
    }

    func handlerAdded(context: ChannelHandlerContext) {
        // Added right after the 101: the subscription goes out at once, as the Python client
        // sends it right after connecting.
        if let subscribe {
            let frame = WebSocketFrame(fin: true, opcode: .text, maskKey: .random(), data: context.channel.allocator.buffer(string: subscribe))
            context.writeAndFlush(wrapOutboundOut(frame), promise: nil)
        }
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let now = monotonicNanos()
        let frame = unwrapInboundIn(data)
        switch frame.opcode {
        case .text:
            let payload = frame.maskKey == nil ? frame.data : frame.unmaskedData
            let fields = payload.withUnsafeReadableBytes { StockScanner.scan($0) }
            inbox.messages.withLock { $0.append(Received(nanos: now, fields: fields)) }
            count += 1
            if count == progress.want { progress.complete.add(1, ordering: .relaxed) }
        case .ping:
            let payload = frame.maskKey == nil ? frame.data : frame.unmaskedData
            context.writeAndFlush(wrapOutboundOut(WebSocketFrame(fin: true, opcode: .pong, maskKey: .random(), data: payload)), promise: nil)
        case .connectionClose:
            inbox.closedByServer.store(true, ordering: .relaxed)
            var payload = frame.maskKey == nil ? frame.data : frame.unmaskedData
            let code = payload.readSlice(length: min(2, payload.readableBytes)) ?? ByteBuffer()
            let reply = WebSocketFrame(fin: true, opcode: .connectionClose, maskKey: .random(), data: code)
            let channel = context.channel
            context.writeAndFlush(wrapOutboundOut(reply)).whenComplete { _ in channel.close(promise: nil) }
        default:
            break
        }
    }
}

/// Catches the status of a refused handshake (the HTTP pipeline stays in place when the server
/// does not upgrade), for the warning.
final class RefusalCatcher: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPClientResponsePart

    private let status: EventLoopPromise<String>

    init(status: EventLoopPromise<String>) { self.status = status }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        if case .head(let head) = unwrapInboundIn(data) {
            status.succeed("HTTP \(head.status.code) \(head.status.reasonPhrase)")
            context.close(promise: nil)
        }
    }

    func channelInactive(context: ChannelHandlerContext) {
        status.succeed("connection closed without an answer")
        context.fireChannelInactive()
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        status.succeed("connection closed without an answer")
    }
}

enum UpgradeOutcome: Sendable {
    case upgraded
    case refused(EventLoopFuture<String>)
}

struct FanoutClient: Sendable {
    let channel: any Channel
    let inbox: Inbox
}

struct Target: Sendable {
    let host: String
    let port: Int
    let hostHeader: String
    let path: String
    let origin: String?
}

enum Connector {
    /// Connects, upgrades to a WebSocket and installs a FanoutHandler (which sends the subscription).
    static func open(group: any EventLoopGroup, target: Target, progress: Progress, subscribe: String?, expected: Int)
        -> EventLoopFuture<FanoutClient>
    {
        let inbox = Inbox(expected: expected)
        let loop = group.next()
        let outcome = loop.makePromise(of: UpgradeOutcome.self)
        let connected = ClientBootstrap(group: loop)
            .channelOption(.socketOption(.tcp_nodelay), value: 1)
            .connectTimeout(.seconds(60))
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    let upgrader = NIOTypedWebSocketClientUpgrader<UpgradeOutcome>(
                        maxFrameSize: 1 << 16,
                        upgradePipelineHandler: { channel, _ in
                            channel.eventLoop.makeCompletedFuture {
                                try channel.pipeline.syncOperations.addHandler(
                                    FanoutHandler(inbox: inbox, progress: progress, subscribe: subscribe))
                                return UpgradeOutcome.upgraded
                            }
                        })
                    var headers = HTTPHeaders()
                    headers.add(name: "Host", value: target.hostHeader)
                    if let origin = target.origin { headers.add(name: "Origin", value: origin) }
                    headers.add(name: "Content-Length", value: "0")
                    let head = HTTPRequestHead(version: .http1_1, method: .GET, uri: target.path, headers: headers)
                    let configuration = NIOTypedHTTPClientUpgradeConfiguration<UpgradeOutcome>(
                        upgradeRequestHead: head, upgraders: [upgrader],
                        notUpgradingCompletionHandler: { channel in
                            channel.eventLoop.makeCompletedFuture {
                                let status = channel.eventLoop.makePromise(of: String.self)
                                try channel.pipeline.syncOperations.addHandler(RefusalCatcher(status: status))
                                return UpgradeOutcome.refused(status.futureResult)
                            }
                        })
                    let result = try channel.pipeline.syncOperations.configureUpgradableHTTPClientPipeline(
                        configuration: .init(upgradeConfiguration: configuration))
                    result.cascade(to: outcome)
                }
            }
            .connect(host: target.host, port: target.port)
        connected.whenFailure { outcome.fail($0) }
        return connected.and(outcome.futureResult).flatMap { channel, result -> EventLoopFuture<FanoutClient> in
            switch result {
            case .upgraded:
                return channel.eventLoop.makeSucceededFuture(FanoutClient(channel: channel, inbox: inbox))
            case .refused(let status):
                return status.flatMapThrowing { throw FanoutError("WebSocket handshake refused: \($0)") }
            }
        }
    }
}
