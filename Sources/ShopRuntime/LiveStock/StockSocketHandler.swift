import Foundation
import Logging
import NIOCore
import NIOWebSocket

/// One /ws/stock connection, as a channel handler on its event loop (RFC 6455 on top of NIO's
/// frame codec): no Swift task per connection.
///
/// Why not a task per connection (hummingbird-websocket's model, used here before): 10,000 open
/// sockets held three tasks each (the connection, the auto-ping loop, the sender), and their
/// async frames were most of 35 KiB per connection (heaptrack: the tasks' stack allocators); and
/// every stock message went hub -> sender task -> event loop, two thread hops. Here the hub wakes
/// the connection's event loop once and the handler writes the shared, once-encoded bytes.
///
/// Everything here runs on the channel's event loop; the subscriber is the only state the hub
/// touches, under its own lock.
final class StockSocketHandler: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = WebSocketFrame
    typealias OutboundOut = WebSocketFrame

    private let sockets: StockSockets
    private let since: Int64?
    private let logger: Logger
    private var context: ChannelHandlerContext?
    private var subscriber: StockSubscriber?
    private var position: Int64 = 0

    /// A message arriving in fragments: its opcode and what came so far.
    private var fragments: (opcode: WebSocketOpcode, data: ByteBuffer)?
    private var badMessages = 0
    /// Our close frame is out: nothing else is written, and the client's close ends the socket.
    private var closeSent = false
    private var awaitingPong = false
    private var pingTask: RepeatedTask?
    private var closeTimeout: Scheduled<Void>?
    /// A resuming client's catch-up: waits for its first subscribe, or the grace period.
    private var catchUpStarted = false
    private var graceTimer: Scheduled<Void>?
    private var ended = false

    init(sockets: StockSockets, since: Int64?, logger: Logger) {
        self.sockets = sockets
        self.since = since
        self.logger = logger
    }

    // MARK: Life

    func handlerAdded(context: ChannelHandlerContext) {
        self.context = context
        let sockets = self.sockets
        let metrics = sockets.metrics
        let logger = self.logger
        let channel = context.channel
        let eventLoop = context.eventLoop
        let handler = NIOLoopBound(self, eventLoop: eventLoop)
        let subscriber = StockSubscriber(
            filter: nil, maxPending: sockets.settings.maxPendingSKUs, held: since != nil,
            wake: { eventLoop.execute { handler.value.drain() } },
            onTooSlow: {
                metrics.slowClientsDropped.increment()
                logger.notice("stock socket closed: the client does not keep up", metadata: ["peer": "\(channel.remoteAddress?.description ?? "?")"])
                // The polite close (1013) is tried first; a client that reads nothing never gets
                // it, so the socket is closed for good shortly after.
                eventLoop.scheduleTask(in: .seconds(1)) { channel.close(promise: nil) }
            })
        self.subscriber = subscriber
        position = sockets.hub.add(subscriber)
        metrics.openWebSockets.increment()
        sockets.startWatchdog()

        let period = TimeAmount(sockets.settings.pingInterval)
        pingTask = eventLoop.scheduleRepeatedTask(initialDelay: period, delay: period) { _ in handler.value.pingTick() }
        if since != nil {
            graceTimer = eventLoop.scheduleTask(in: TimeAmount(sockets.settings.subscribeGrace)) { handler.value.startCatchUp() }
        }
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        end()
        self.context = nil
    }

    func channelInactive(context: ChannelHandlerContext) {
        end()
        context.fireChannelInactive()
    }

    private func end() {
        guard !ended else { return }
        ended = true
        pingTask?.cancel()
        graceTimer?.cancel()
        closeTimeout?.cancel()
        if let subscriber {
            subscriber.close(.finished)
            sockets.hub.remove(subscriber)
            sockets.metrics.openWebSockets.decrement()
        }
    }

    /// The runtime shuts down (its graceful shutdown reached this connection).
    struct GoingAway: Sendable {}

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if event is GoingAway {
            subscriber?.close(.goingAway)
        } else {
            context.fireUserInboundEventTriggered(event)
        }
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        logger.debug("stock socket error", metadata: ["error": "\(error)"])
        context.close(promise: nil)
    }

    // MARK: Inbound

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let frame = unwrapInboundIn(data)
        // RFC 6455 5.1: a client masks every frame; the server closes on one that is not.
        guard frame.maskKey != nil else { return fail(.protocolError, "frames from a client must be masked") }
        // After our close frame, data is read and dropped until the client's close.
        if closeSent, frame.opcode == .text || frame.opcode == .binary || frame.opcode == .continuation { return }
        switch frame.opcode {
        case .text, .binary:
            guard fragments == nil else { return fail(.protocolError, "a new message began before the last one ended") }
            if frame.fin {
                message(frame.opcode, frame.unmaskedData)
            } else {
                fragments = (frame.opcode, frame.unmaskedData)
            }
        case .continuation:
            guard let (opcode, started) = fragments else { return fail(.protocolError, "a continuation frame without a message") }
            var data = started
            var more = frame.unmaskedData
            guard data.readableBytes + more.readableBytes <= sockets.settings.maxFrameSize else {
                return fail(.messageTooLarge, "message too large")
            }
            data.writeBuffer(&more)
            if frame.fin {
                fragments = nil
                message(opcode, data)
            } else {
                fragments = (opcode, data)
            }
        case .ping:
            guard !closeSent else { return }
            context.writeAndFlush(wrapOutboundOut(WebSocketFrame(fin: true, opcode: .pong, data: frame.unmaskedData)), promise: nil)
        case .pong:
            awaitingPong = false
        case .connectionClose:
            if closeSent {
                context.close(promise: nil)
            } else {
                // The client closes: answer with its code (RFC 6455 5.5.1), then end the socket.
                var data = frame.unmaskedData
                let code = data.readInteger(as: UInt16.self).map { Self.echoable($0) ? $0 : 1002 } ?? 1000
                closeSent = true
                var payload = context.channel.allocator.buffer(capacity: 2)
                payload.writeInteger(code)
                let channel = context.channel
                context.writeAndFlush(wrapOutboundOut(WebSocketFrame(fin: true, opcode: .connectionClose, data: payload)))
                    .whenComplete { _ in channel.close(promise: nil) }
            }
        default:
            fail(.protocolError, "unknown opcode")
        }
    }

    /// Close codes a client may send (RFC 6455 7.4): anything else is answered with 1002.
    static func echoable(_ code: UInt16) -> Bool {
        switch code {
        case 1000...1003, 1007...1011, 3000...4999: true
        default: false
        }
    }

    private func message(_ opcode: WebSocketOpcode, _ data: ByteBuffer) {
        let problem: String
        if opcode == .text {
            guard let text = String(validating: data.readableBytesView, as: UTF8.self) else {
                return fail(.dataInconsistentWithMessage, "text frames must be UTF-8")
            }
            if let skus = try? JSONDecoder().decode(StockSockets.ClientMessage.self, from: Data(text.utf8)).subscribe {
                if skus.count > sockets.settings.maxSubscribedSKUs {
                    problem = "Subscribe to at most \(sockets.settings.maxSubscribedSKUs) SKUs per connection."
                } else if skus.contains(where: { !(1...255).contains($0.utf8.count) }) {
                    problem = "Every SKU must be 1 to 255 bytes long."
                } else {
                    subscriber?.setFilter(Set(skus))
                    startCatchUp()
                    return
                }
            } else {
                problem = #"Send {"subscribe":["SKU",...]}."#
            }
        } else {
            problem = "Send text frames holding JSON."
        }
        badMessages += 1
        logger.debug("bad message on the stock socket", metadata: ["count": "\(badMessages)"])
        if badMessages > sockets.settings.maxBadMessages {
            return close(.policyViolation, "too many bad messages")
        }
        send(text: #"{"type":"error","error":"invalid_message","message":"# + JSONText.quoted(problem) + "}")
    }

    // MARK: Outbound

    /// Writes what the subscriber holds while the socket takes it; the rest waits (coalesced per
    /// SKU) for `channelWritabilityChanged`.
    func drain() {
        guard let context, let subscriber, !closeSent else { return }
        var wrote = 0
        while context.channel.isWritable, let next = subscriber.take() {
            switch next {
            case .messages(let messages):
                for message in messages {
                    context.write(wrapOutboundOut(WebSocketFrame(fin: true, opcode: .text, data: message.bytes)), promise: nil)
                }
                wrote += messages.count
            case .snapshot(let seq):
                // The hub lost track of what this client has: everything it subscribes to, fresh.
                let sockets = self.sockets
                let logger = self.logger
                Task {
                    do {
                        subscriber.offerCatchUp(try await sockets.snapshot(subscriber.filter, through: seq))
                    } catch {
                        logger.warning("cannot read a stock snapshot; closing the socket", metadata: ["error": "\(error)"])
                        subscriber.close(.goingAway)
                    }
                }
            case .closed(.tooSlow):
                return close(WebSocketErrorCode(codeNumber: 1013), "too slow")
            case .closed(.goingAway):
                return close(.goingAway, "shutting down")
            case .closed(.finished):
                context.close(promise: nil)
                return
            }
        }
        if wrote > 0 {
            context.flush()
            sockets.metrics.stockMessagesSent.increment(by: Int64(wrote))
        }
        // Nothing moves until the client reads: the watchdog closes it if that takes too long.
        if !context.channel.isWritable { subscriber.writing(true) }
    }

    func channelWritabilityChanged(context: ChannelHandlerContext) {
        if context.channel.isWritable {
            subscriber?.writing(false)
            drain()
        }
        context.fireChannelWritabilityChanged()
    }

    private func send(text: String) {
        guard let context, !closeSent else { return }
        context.writeAndFlush(wrapOutboundOut(WebSocketFrame(fin: true, opcode: .text, data: ByteBuffer(string: text))), promise: nil)
    }

    /// Starts the close handshake; the socket ends at the client's answer, or after 10 s.
    private func close(_ code: WebSocketErrorCode, _ reason: String) {
        guard let context, !closeSent else { return }
        closeSent = true
        var payload = context.channel.allocator.buffer(capacity: 2 + reason.utf8.count)
        payload.write(webSocketErrorCode: code)
        payload.writeString(reason)
        context.writeAndFlush(wrapOutboundOut(WebSocketFrame(fin: true, opcode: .connectionClose, data: payload)), promise: nil)
        let channel = context.channel
        closeTimeout = context.eventLoop.scheduleTask(in: .seconds(10)) { channel.close(promise: nil) }
    }

    /// A client that breaks the protocol: the close frame, then the socket.
    private func fail(_ code: WebSocketErrorCode, _ reason: String) {
        logger.debug("stock socket protocol error", metadata: ["reason": "\(reason)"])
        fragments = nil
        close(code, reason)
        context?.close(promise: nil)
    }

    // MARK: Pings and the catch-up

    /// Each period: a peer that has not answered the last ping is gone (closed); otherwise a ping.
    func pingTick() {
        guard let context, !closeSent else { return }
        if awaitingPong {
            logger.debug("stock socket peer did not answer a ping; closing")
            close(.goingAway, "ping timeout")
            context.close(promise: nil)
            return
        }
        awaitingPong = true
        var payload = context.channel.allocator.buffer(capacity: 8)
        payload.writeInteger(UInt64.random(in: 0...UInt64.max))
        context.writeAndFlush(wrapOutboundOut(WebSocketFrame(fin: true, opcode: .ping, data: payload)), promise: nil)
    }

    /// A resuming client's missed values, read once its subscription is known (its first
    /// subscribe, or the grace period): then the subscriber is released to send.
    func startCatchUp() {
        guard let since, let subscriber, !catchUpStarted else { return }
        catchUpStarted = true
        graceTimer?.cancel()
        let sockets = self.sockets
        let position = self.position
        let logger = self.logger
        Task {
            do {
                try await sockets.catchUp(subscriber, since: since, position: position)
            } catch {
                logger.warning("cannot read the stock catch-up; closing the socket", metadata: ["error": "\(error)"])
                subscriber.close(.goingAway)
            }
        }
    }
}

