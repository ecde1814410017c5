import HTTPTypes
import HummingbirdCore
import Logging
import NIOCore
import NIOHTTP1
import NIOHTTPTypes
import NIOHTTPTypesHTTP1
import NIOWebSocket
import ServiceLifecycle

/// The runtime's HTTP/1 server channel, with the /ws/stock upgrade.
///
/// Why not hummingbird-websocket's `HTTP1WebSocketUpgradeChannel`: when its `shouldUpgrade`
/// declines, it answers every refused handshake with an empty 400 and closes, so a disallowed
/// Origin could not get the 403 API.md asks for. (It cannot hand the request to the router
/// either: NIO's upgrade handler has consumed the request head by then, and only its end reaches
/// the HTTP pipeline.) Here a refused handshake gets its own status and the API's error shape:
/// 403 for the origin, 400 for a bad `since`, 404 for an upgrade to any other path. The WebSocket
/// itself is NIO's frame codec with StockSocketHandler on top (pings, close handshake, UTF-8
/// checks, message limits), on the connection's event loop.
struct StockSocketChannel: ServerChildChannel, HTTPChannelHandler {
    enum UpgradeResult: Sendable {
        case webSocket(any Channel)
        case http(NIOAsyncChannel<HTTPRequestPart, HTTPResponsePart>)
        case refused(NIOAsyncChannel<HTTPRequestPart, HTTPResponsePart>, Refusal)
    }

    struct Refusal: Sendable {
        let status: HTTPResponse.Status
        let code: String
        let message: String
    }

    struct Value: ServerChildChannelValue {
        let upgradeResult: EventLoopFuture<UpgradeResult>
        let channel: any Channel
    }

    let responder: HTTPChannelHandler.Responder
    let http1: HTTP1Channel.Configuration
    let sockets: StockSockets

    init(responder: @escaping HTTPChannelHandler.Responder, http1: HTTP1Channel.Configuration, sockets: StockSockets) {
        self.responder = responder
        self.http1 = http1
        self.sockets = sockets
    }

    func setup(channel: any Channel, logger: Logger) -> EventLoopFuture<Value> {
        channel.eventLoop.makeCompletedFuture {
            let sockets = self.sockets
            // Set when a handshake is refused; read when the HTTP pipeline takes the connection over.
            let refusal = NIOLoopBoundBox<Refusal?>(nil, eventLoop: channel.eventLoop)
            let upgrader = NIOTypedWebSocketServerUpgrader<UpgradeResult>(
                // Inbound frames over 4 KiB: NIO's decoder closes the connection (1009).
                maxFrameSize: sockets.settings.maxFrameSize,
                enableAutomaticErrorHandling: true,
                shouldUpgrade: { channel, head in
                    switch StockSocketRequest.check(uri: head.uri, origin: head.headers["Origin"].first, policy: sockets.policy) {
                    case .accept:
                        return channel.eventLoop.makeSucceededFuture(HTTPHeaders())
                    case .reject(let status, let code, let message):
                        refusal.value = Refusal(status: status, code: code, message: message)
                    case .notOurs:
                        refusal.value = Refusal(status: .notFound, code: "not_found", message: "No WebSocket here; the stock feed is /ws/stock.")
                    }
                    return channel.eventLoop.makeSucceededFuture(nil)
                },
                upgradePipelineHandler: { channel, head in
                    channel.eventLoop.makeCompletedFuture {
                        var since: Int64?
                        if case .accept(let given) = StockSocketRequest.check(uri: head.uri, origin: head.headers["Origin"].first,
                                                                              policy: sockets.policy) { since = given }
                        if let bytes = sockets.settings.sendBufferBytes {
                            // A small kernel send buffer per socket: a client that stops reading is
                            // noticed after kilobytes, not megabytes, and 10,000 idle sockets stay cheap.
                            try channel.syncOptions?.setOption(ChannelOptions.socketOption(.so_sndbuf), value: SocketOptionValue(bytes))
                        }
                        try channel.pipeline.syncOperations.addHandler(StockSocketHandler(sockets: sockets, since: since, logger: logger))
                        return UpgradeResult.webSocket(channel)
                    }
                }
            )
            let upgrade = NIOTypedHTTPServerUpgradeConfiguration(
                upgraders: [upgrader],
                notUpgradingCompletionHandler: { channel in
                    channel.eventLoop.makeCompletedFuture {
                        // Not upgraded (a plain request, or a refused handshake): the normal HTTP
                        // pipeline, which then reads the request NIO kept back.
                        try channel.pipeline.syncOperations.addHandler(HTTP1ToHTTPServerCodec(secure: false))
                        try channel.pipeline.syncOperations.addHandlers(self.http1.additionalChannelHandlers())
                        try channel.pipeline.syncOperations.addHandler(
                            HTTPConnectionStateHandler(idleTimeout: self.http1.idleTimeout.map { Duration($0) }, logger: logger))
                        let http = try NIOAsyncChannel<HTTPRequestPart, HTTPResponsePart>(
                            wrappingChannelSynchronously: channel, configuration: .init(isOutboundHalfClosureEnabled: true))
                        if let refused = refusal.value { return UpgradeResult.refused(http, refused) }
                        return UpgradeResult.http(http)
                    }
                }
            )
            var configuration = NIOUpgradableHTTPServerPipelineConfiguration<UpgradeResult>(upgradeConfiguration: upgrade)
            configuration.enablePipelining = false  // HTTP pipelining is handled by NIOAsyncChannel
            configuration.enableErrorHandling = false  // Hummingbird's handler deals with errors
            configuration.enableResponseHeaderValidation = false  // swift-http-types validates already
            configuration.decoderConfiguration.maxHeaderFieldSize = http1.httpDecoder.maxHeaderFieldSize
            configuration.decoderConfiguration.maxHeaderListSize = http1.httpDecoder.maxHeaderListSize
            configuration.decoderConfiguration.maxHeaderFieldCount = http1.httpDecoder.maxHeaderFieldCount
            let result = try channel.pipeline.syncOperations.configureUpgradableHTTPServerPipeline(configuration: configuration)
            return Value(upgradeResult: result, channel: channel)
        }
    }

    func handle(value: Value, logger: Logger) async {
        do {
            // A connection that has not sent a whole request head yet has nothing in progress: at
            // graceful shutdown it is closed, as Hummingbird closes idle keep-alive connections.
            // (Waiting for it held the shutdown until the client went away.)
            let upgradeResult = try await withGracefulShutdownHandler {
                try await value.upgradeResult.get()
            } onGracefulShutdown: {
                value.channel.close(promise: nil)
            }
            switch upgradeResult {
            case .http(let http):
                await handleHTTP(asyncChannel: http, logger: logger)
            case .refused(let http, let refusal):
                logger.info("stock socket handshake refused", metadata: ["status": "\(refusal.status.code)", "error": "\(refusal.code)"])
                try await Self.answer(http, refusal)
            case .webSocket(let channel):
                // The handler does the work; this task only keeps the connection counted by the
                // server until the socket ends. The server's graceful shutdown waits for it, so
                // the shutdown itself starts the close handshake (1001, going away).
                await withGracefulShutdownHandler {
                    try? await channel.closeFuture.get()
                } onGracefulShutdown: {
                    channel.pipeline.fireUserInboundEventTriggered(StockSocketHandler.GoingAway())
                }
            }
        } catch let error as ChannelError where error == .inputClosed {
            logger.trace("connection closed before its first request")
        } catch {
            logger.debug("connection setup failed", metadata: ["error": "\(error)"])
        }
    }
}

extension StockSocketChannel {
    /// The refusal in the API's error shape, then the connection is closed.
    static func answer(_ http: NIOAsyncChannel<HTTPRequestPart, HTTPResponsePart>, _ refusal: Refusal) async throws {
        let body = ByteBuffer(string: #"{"error":"# + JSONText.quoted(refusal.code) + #","message":"# + JSONText.quoted(refusal.message) + "}")
        var headers: HTTPFields = [
            .contentType: "application/json; charset=utf-8", .contentLength: "\(body.readableBytes)",
            .connection: "close", .cacheControl: "no-store",
        ]
        headers[.vary] = "Origin"
        headers[.xContentTypeOptions] = "nosniff"
        try await http.executeThenClose { _, outbound in
            try await outbound.write(contentsOf: [.head(HTTPResponse(status: refusal.status, headerFields: headers)), .body(body), .end(nil)])
        }
    }
}

extension HTTPServerBuilder {
    /// HTTP/1 with the /ws/stock upgrade (see StockSocketChannel).
    static func http1WithStockSocket(_ sockets: StockSockets, http1: HTTP1Channel.Configuration) -> HTTPServerBuilder {
        .init { responder in StockSocketChannel(responder: responder, http1: http1, sockets: sockets) }
    }
}
