import ArgumentParser
import NIOCore
import NIOHTTP1
import NIOPosix
import NIOWebSocket
import Synchronization

/// The fan-out client's floor, on NIO: a broadcaster that does nothing else.
///
/// Speaks just enough of API.md for wsfanout (POST /api/auth/login, PATCH
/// /api/admin/variants/{sku}, WebSocket /ws/stock, GET /healthz) with no database, no auth check,
/// no Origin check and no filtering: a PATCH's message is encoded once and written to every open
/// socket, each on its own event loop, before the PATCH is answered. What a client measures
/// against it is the client's own cost plus the least any server must spend (one write per
/// socket), which bounds what that client can show for a real server on the same machine.
/// bench/ws_floor.py is the same thing in Python (Starlette on uvicorn).
@main
struct WSFloor: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "wsfloor", abstract: "A WebSocket broadcaster that does nothing else (wsfanout's floor).")

    @Option var host = "127.0.0.1"
    @Option var port = 18600
    @Option(help: "Event loop threads (default: every core).") var threads = System.coreCount

    func run() throws {
        let group = MultiThreadedEventLoopGroup(numberOfThreads: max(1, threads))
        let hub = Hub()
        let bootstrap = ServerBootstrap(group: group)
            .serverChannelOption(.backlog, value: 4096)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelOption(.socketOption(.tcp_nodelay), value: 1)
            .childChannelInitializer { channel in
                let upgrader = NIOWebSocketServerUpgrader(
                    shouldUpgrade: { channel, _ in channel.eventLoop.makeSucceededFuture(HTTPHeaders()) },
                    upgradePipelineHandler: { channel, _ in
                        channel.eventLoop.makeCompletedFuture {
                            try channel.pipeline.syncOperations.addHandler(SocketHandler(hub: hub))
                        }
                    })
                return channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.configureHTTPServerPipeline(
                        withServerUpgrade: (upgraders: [upgrader], completionHandler: { context in
                            context.pipeline.removeHandler(name: "floor-http", promise: nil)
                        }))
                    try channel.pipeline.syncOperations.addHandler(HTTPHandler(hub: hub), name: "floor-http")
                }
            }
        let server = try bootstrap.bind(host: host, port: port).wait()
        print("wsfloor listening on \(host):\(port)")
        try server.closeFuture.wait()
    }
}

/// Every open socket, grouped by event loop so that a broadcast is one task per loop.
final class Hub: Sendable {
    private struct State {
        var sockets: [ObjectIdentifier: (any EventLoop, [ObjectIdentifier: any Channel])] = [:]
        var seq: Int64 = 0
    }

    private let state = Mutex(State())

    func add(_ channel: any Channel) {
        state.withLock { s in
            let loop = ObjectIdentifier(channel.eventLoop)
            s.sockets[loop, default: (channel.eventLoop, [:])].1[ObjectIdentifier(channel)] = channel
        }
    }

    func remove(_ channel: any Channel) {
        _ = state.withLock { s in s.sockets[ObjectIdentifier(channel.eventLoop)]?.1.removeValue(forKey: ObjectIdentifier(channel)) }
    }

    /// Encodes the message once and hands it to every socket's loop.
    func broadcast(sku: String, stock: Int64) {
        let (seq, groups) = state.withLock { s -> (Int64, [(any EventLoop, [any Channel])]) in
            s.seq += 1
            return (s.seq, s.sockets.values.map { ($0.0, Array($0.1.values)) })
        }
        let text = #"{"type":"stock","sku":""# + escape(sku) + #"","stock":\#(stock),"seq":\#(seq)}"#
        let data = ByteBuffer(string: text)
        for (loop, channels) in groups {
            loop.execute {
                let frame = WebSocketFrame(fin: true, opcode: .text, data: data)
                for channel in channels { channel.writeAndFlush(frame, promise: nil) }
            }
        }
    }

    private func escape(_ text: String) -> String {
        var out = ""
        for scalar in text.unicodeScalars {
            switch scalar {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\u{0}"..."\u{1F}": out += "\\u" + String(repeating: "0", count: 4 - String(scalar.value, radix: 16).count) + String(scalar.value, radix: 16)
            default: out.unicodeScalars.append(scalar)
            }
        }
        return out
    }
}

/// One WebSocket: registered with the hub; inbound frames (subscriptions) ignored, pings answered.
final class SocketHandler: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = WebSocketFrame
    typealias OutboundOut = WebSocketFrame

    let hub: Hub

    init(hub: Hub) { self.hub = hub }

    func handlerAdded(context: ChannelHandlerContext) { hub.add(context.channel) }

    func channelInactive(context: ChannelHandlerContext) {
        hub.remove(context.channel)
        context.fireChannelInactive()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let frame = unwrapInboundIn(data)
        switch frame.opcode {
        case .connectionClose:
            hub.remove(context.channel)
            let channel = context.channel
            context.writeAndFlush(wrapOutboundOut(WebSocketFrame(fin: true, opcode: .connectionClose, data: ByteBuffer())))
                .whenComplete { _ in channel.close(promise: nil) }
        case .ping:
            context.writeAndFlush(wrapOutboundOut(WebSocketFrame(fin: true, opcode: .pong, data: frame.unmaskedData)), promise: nil)
        default:
            break
        }
    }
}

/// The plain HTTP routes: /healthz, the login (a fixed token) and the PATCH that broadcasts.
final class HTTPHandler: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias OutboundOut = HTTPServerResponsePart

    let hub: Hub
    private var head: HTTPRequestHead?
    private var body = ByteBuffer()

    init(hub: Hub) { self.hub = hub }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .head(let head):
            self.head = head
            body.clear()
        case .body(var chunk):
            body.writeBuffer(&chunk)
        case .end:
            guard let head else { return }
            self.head = nil
            let prefix = "/api/admin/variants/"
            if head.method == .GET, head.uri == "/healthz" {
                respond(context, head, status: .ok, body: "ok")
            } else if head.method == .POST, head.uri == "/api/auth/login" {
                respond(context, head, status: .ok,
                        body: #"{"access_token":"floor","refresh_token":"floor","token_type":"Bearer","expires_in":900}"#)
            } else if head.method == .PATCH, head.uri.hasPrefix(prefix) {
                let sku = String(head.uri.dropFirst(prefix.count)).removingPercentEncodingLossy()
                guard let stock = body.withUnsafeReadableBytes({ Self.integer(after: "\"stock\"", in: $0) }) else {
                    respond(context, head, status: .unprocessableEntity, body: #"{"error":"invalid_stock"}"#)
                    return
                }
                hub.broadcast(sku: sku, stock: stock)
                respond(context, head, status: .ok, body: #"{"sku":"\#(sku)","stock":\#(stock)}"#)
            } else {
                respond(context, head, status: .notFound, body: #"{"error":"not_found"}"#)
            }
        }
    }

    private func respond(_ context: ChannelHandlerContext, _ request: HTTPRequestHead, status: HTTPResponseStatus, body: String) {
        var headers = HTTPHeaders()
        headers.add(name: "Content-Type", value: "application/json")
        headers.add(name: "Content-Length", value: String(body.utf8.count))
        context.write(wrapOutboundOut(.head(HTTPResponseHead(version: request.version, status: status, headers: headers))), promise: nil)
        context.write(wrapOutboundOut(.body(.byteBuffer(context.channel.allocator.buffer(string: body)))), promise: nil)
        context.writeAndFlush(wrapOutboundOut(.end(nil)), promise: nil)
    }

    /// The integer after `key` and a colon in a small JSON body.
    static func integer(after key: String, in bytes: UnsafeRawBufferPointer) -> Int64? {
        let key = Array(key.utf8)
        guard bytes.count >= key.count else { return nil }
        for start in 0...(bytes.count - key.count) where zip(key.indices, key).allSatisfy({ bytes[start + $0.0] == $0.1 }) {
            var i = start + key.count
            while i < bytes.count, bytes[i] == 0x20 || bytes[i] == UInt8(ascii: ":") { i += 1 }
            var negative = false
            if i < bytes.count, bytes[i] == UInt8(ascii: "-") {
                negative = true
                i += 1
            }
            var value: Int64 = 0
            var digits = 0
            while i < bytes.count, bytes[i] >= 0x30, bytes[i] <= 0x39, digits < 18 {
                value = value * 10 + Int64(bytes[i] - 0x30)
                digits += 1
                i += 1
            }
            return digits > 0 ? (negative ? -value : value) : nil
        }
        return nil
    }
}

extension String {
    /// Percent-decoding; a malformed escape is kept as it is.
    func removingPercentEncodingLossy() -> String {
        var out: [UInt8] = []
        var bytes = Array(utf8)[...]
        while let byte = bytes.popFirst() {
            if byte == UInt8(ascii: "%"), bytes.count >= 2,
               let value = UInt8(String(decoding: bytes.prefix(2), as: UTF8.self), radix: 16)
            {
                out.append(value)
                bytes = bytes.dropFirst(2)
            } else {
                out.append(byte)
            }
        }
        return String(decoding: out, as: UTF8.self)
    }
}
