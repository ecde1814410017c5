import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import Logging
import PostgresNIO
import ShopCore
@testable import ShopRuntime
import ShopStore
import ShopTestSupport
import Synchronization
import Testing

/// /ws/stock and the stock hub (issue 7), on real stores, a real server and real WebSocket clients.
@Suite("Live stock over /ws/stock")
struct LiveStockTests {
    static let fig = "LP-FIG-A4"
    static let wine = "LP-WINE-A4"
    static let bird = "LP-BIRD-A4"
    static let dandelion = "LP-DAND-A4"

    /// Resuming clients get their catch-up only after their `subscribe` (they all send it at once):
    /// a long grace makes that ordering certain however loaded the machine is.
    static var sockets: StockSocketSettings {
        var settings = StockSocketSettings()
        settings.subscribeGrace = .seconds(20)
        return settings
    }

    /// An admin edit of stock as the route makes it: the store's transaction, then the hub's read.
    static func setStock(_ fixture: RuntimeFixture, _ sku: String, _ stock: Int) async throws {
        _ = try await fixture.store.updateVariant(sku: sku, stock: stock, priceCents: nil, now: 1)
        fixture.hub.stockChanged()
    }

    @Test("A subscribe filter: a client gets its SKUs only; a client without one gets every SKU", arguments: Backend.available)
    func subscribeFilter(backend: Backend) async throws {
        let fixture = try await RuntimeFixture.make(backend)
        defer { fixture.remove() }
        let now = try await fixture.store.stockEventHorizon().latest
        try await fixture.liveApplication(sockets: Self.sockets).test(.live) { client in
            let port = try #require(client.port)
            let onlyFig = StockFeed.open(port: port, query: "?since=\(now)", subscribe: [Self.fig])
            let every = StockFeed.open(port: port)
            #expect(await eventually { fixture.hub.subscriberCount == 2 }, "\(String(describing: onlyFig.failure)) \(String(describing: every.failure))")

            try await Self.setStock(fixture, Self.wine, 41)
            try await Self.setStock(fixture, Self.fig, 7)
            #expect(await eventually { onlyFig.latest[Self.fig] == 7 && every.latest[Self.fig] == 7 })
            #expect(every.latest[Self.wine] == 41)
            #expect(onlyFig.messages.map(\.sku) == [Self.fig], "the other SKU never reaches a client that did not subscribe to it")
            #expect(every.seqNeverDecreases)
            onlyFig.close()
            every.close()
        }
    }

    @Test("Resume with ?since=: exactly the subscribed SKUs that changed, at their newest value, then live updates",
          arguments: Backend.available)
    func resumeAfterGap(backend: Backend) async throws {
        let fixture = try await RuntimeFixture.make(backend)
        defer { fixture.remove() }
        let start = try await fixture.store.stockEventHorizon().latest
        let subscription = [Self.fig, Self.wine, Self.bird]
        try await fixture.liveApplication(sockets: Self.sockets).test(.live) { client in
            let port = try #require(client.port)
            let first = StockFeed.open(port: port, query: "?since=\(start)", subscribe: subscription)
            #expect(await eventually { fixture.hub.subscriberCount == 1 })
            try await Self.setStock(fixture, Self.fig, 1)
            #expect(await eventually { first.latest[Self.fig] == 1 })
            let seen = try #require(first.lastSeq)
            first.close()
            await first.waitUntilEnded()
            #expect(await eventually { fixture.hub.subscriberCount == 0 })

            // The gap: fig twice, wine once, dandelion (not subscribed) once.
            try await Self.setStock(fixture, Self.fig, 2)
            try await Self.setStock(fixture, Self.wine, 3)
            try await Self.setStock(fixture, Self.fig, 4)
            try await Self.setStock(fixture, Self.dandelion, 5)
            #expect(await eventually { fixture.hub.delivered == (try? await fixture.store.stockEventHorizon().latest) })

            let second = StockFeed.open(port: port, query: "?since=\(seen)", subscribe: subscription)
            #expect(await eventually { second.messages.count >= 2 })
            // A live change after the catch-up marks its end.
            try await Self.setStock(fixture, Self.bird, 6)
            #expect(await eventually { second.latest[Self.bird] == 6 })
            let messages = second.messages
            #expect(messages.map(\.sku) == [Self.wine, Self.fig, Self.bird], "wine and fig once each, in seq order, then the live bird")
            #expect(messages.map(\.stock) == [3, 4, 6])
            #expect(messages.allSatisfy { $0.seq > seen })
            #expect(second.seqNeverDecreases)
            second.close()

            // A seq this database never gave (or one from before a pruning): a full snapshot.
            let snapshot = StockFeed.open(port: port, query: "?since=\(Int64.max)", subscribe: subscription)
            #expect(await eventually { snapshot.messages.count == 3 })
            #expect(snapshot.latest == [Self.fig: 4, Self.wine: 3, Self.bird: 6])
            snapshot.close()
        }
    }

    @Test("A checkout that fails and rolls back announces nothing", arguments: Backend.available)
    func rolledBackCheckoutSendsNothing(backend: Backend) async throws {
        let fixture = try await RuntimeFixture.make(backend)
        defer { fixture.remove() }
        let before = try await fixture.store.stockEventHorizon().latest
        try await fixture.liveApplication(sockets: Self.sockets).test(.live) { client in
            let port = try #require(client.port)
            let feed = StockFeed.open(port: port)
            #expect(await eventually { fixture.hub.subscriberCount == 1 })
            let session = try await client.signedUp("rollback@example.com")
            // Fig is taken first (SKU order), then the wine runs short: all of it rolls back.
            for (sku, quantity) in [(Self.fig, 1), (Self.wine, 50)] {
                let added = try await client.execute(uri: "/api/cart/items", method: .post, headers: headers([session.bearer]),
                                                     body: jsonBody(["sku": sku, "quantity": quantity])) { $0 }
                #expect(added.status == .ok)
            }
            let refused = try await client.execute(uri: "/api/checkout", method: .post,
                                                   headers: [.authorization: "Bearer \(session.access)", .idempotencyKeyTest: "k1"]) { $0 }
            #expect(refused.status == .conflict)
            #expect(try await fixture.store.stockEventHorizon().latest == before)
            try await Self.setStock(fixture, Self.bird, 9)
            #expect(await eventually { feed.latest[Self.bird] == 9 })
            #expect(feed.messages.map(\.sku) == [Self.bird], "nothing before the marker: the failed checkout sent nothing")
            feed.close()
        }
    }

    @Test("The handshake: Origin from the allowlist or none, else 403; a bad since is 400; plain GET is 426")
    func handshakeChecks() async throws {
        let fixture = try await RuntimeFixture.make()
        defer { fixture.remove() }
        try await fixture.liveApplication(origins: ["https://shop.example.com"]).test(.live) { client in
            let port = try #require(client.port)
            #expect(try await RawSocket(port: port).handshake(origin: "https://evil.example").hasPrefix("HTTP/1.1 403"))
            #expect(try await RawSocket(port: port).handshake(origin: "null").hasPrefix("HTTP/1.1 403"))
            #expect(try await RawSocket(port: port).handshake(origin: "https://shop.example.com.evil.example").hasPrefix("HTTP/1.1 403"))
            #expect(try await RawSocket(port: port).handshake(origin: "https://shop.example.com").hasPrefix("HTTP/1.1 101"))
            #expect(try await RawSocket(port: port).handshake().hasPrefix("HTTP/1.1 101"), "non-browser clients send no Origin")
            for since in ["-1", "abc", "1e3", "99999999999999999999", "", "1&since=2", "%31"] {
                let head = try await RawSocket(port: port).handshake(query: "?since=\(since)", origin: "https://shop.example.com")
                #expect(head.hasPrefix("HTTP/1.1 400"), "since=\(since)")
            }
            #expect(try await RawSocket(port: port).handshake(query: "?since=0").hasPrefix("HTTP/1.1 101"))
            let forbidden = try RawSocket(port: port)
            let head = await forbidden.handshake(origin: "https://evil.example")
            #expect(head.lowercased().contains("content-type: application/json"))
            #expect(!head.lowercased().contains("access-control-allow-origin"))

            let plain = try await client.execute(uri: "/ws/stock", method: .get) { $0 }
            #expect(plain.status == .upgradeRequired)
        }
    }

    @Test("Hostile frames: an oversized frame closes the connection (1009); bad JSON gets an error, then a 1008 close")
    func hostileFrames() async throws {
        let fixture = try await RuntimeFixture.make()
        defer { fixture.remove() }
        try await fixture.liveApplication().test(.live) { client in
            let port = try #require(client.port)
            let big = try RawSocket(port: port)
            #expect(await big.handshake().hasPrefix("HTTP/1.1 101"))
            big.send(StockFeed.frame(opcode: 0x1, payload: Array(repeating: UInt8(ascii: "x"), count: 5000)))
            let closing = await big.read(atMost: 64)
            #expect(closing.first == 0x88, "a close frame")
            #expect(closing.count >= 4 && Int(closing[2]) << 8 | Int(closing[3]) == 1009)

            let junk = try RawSocket(port: port)
            #expect(await junk.handshake().hasPrefix("HTTP/1.1 101"))
            for text in ["not json", #"{"subscribe":"LP-FIG-A4"}"#, #"{"subscribe":[""]}"#] {
                junk.send(StockFeed.frame(opcode: 0x1, payload: Array(text.utf8)))
                let reply = String(decoding: await junk.read(atMost: 512).dropFirst(2), as: UTF8.self)
                #expect(reply.contains("invalid_message"), "\(text)")
            }
            // Still open and working: a valid subscribe is taken, and the feed flows.
            junk.send(StockFeed.frame(opcode: 0x1, payload: Array(#"{"subscribe":["LP-FIG-A4"]}"#.utf8)))
            try await Task.sleep(for: .milliseconds(50))
            try await Self.setStock(fixture, Self.fig, 77)
            let update = String(decoding: await junk.read(atMost: 512).dropFirst(2), as: UTF8.self)
            #expect(update.contains(#""sku":"LP-FIG-A4","stock":77"#))
            // The fourth bad message (too many SKUs) ends it: 1008.
            let tooMany = try JSONSerialization.data(withJSONObject: ["subscribe": (0..<501).map { "S\($0)" }])
            junk.send(StockFeed.frame(opcode: 0x1, payload: Array(tooMany)))
            let closing2 = await junk.read(atMost: 64)
            #expect(closing2.first == 0x88)
            #expect(closing2.count >= 4 && Int(closing2[2]) << 8 | Int(closing2[3]) == 1008)
        }
    }

    @Test("The protocol: a ping gets its pong, fragments make one message, a close is answered; unmasked frames, bad UTF-8 and a peer that stops answering pings are closed")
    func protocolRules() async throws {
        let fixture = try await RuntimeFixture.make()
        defer { fixture.remove() }
        @Sendable func closeCode(_ frame: [UInt8]) -> Int? {
            frame.count >= 4 && frame[0] == 0x88 ? Int(frame[2]) << 8 | Int(frame[3]) : nil
        }
        try await fixture.liveApplication().test(.live) { client in
            let port = try #require(client.port)

            // A ping is answered with a pong of the same payload (server frames are not masked).
            let socket = try RawSocket(port: port)
            #expect(await socket.handshake().hasPrefix("HTTP/1.1 101"))
            socket.send(StockFeed.frame(opcode: 0x9, payload: Array("abc".utf8)))
            #expect(await socket.read(atMost: 64) == [0x8A, 3] + Array("abc".utf8))

            // A subscribe in two fragments is one message: the feed flows for its SKU.
            let subscribe = Array(#"{"subscribe":["LP-FIG-A4"]}"#.utf8)
            socket.send(StockFeed.frame(opcode: 0x1, payload: Array(subscribe[..<10]), fin: false))
            socket.send(StockFeed.frame(opcode: 0x0, payload: Array(subscribe[10...])))
            try await Task.sleep(for: .milliseconds(50))
            try await Self.setStock(fixture, Self.fig, 41)
            let update = String(decoding: await socket.read(atMost: 512).dropFirst(2), as: UTF8.self)
            #expect(update.contains(#""sku":"LP-FIG-A4","stock":41"#), "\(update)")

            // The client closes: the server answers with the same code and ends the connection.
            socket.send(StockFeed.frame(opcode: 0x8, payload: [0x03, 0xE8]))
            let answer = await socket.readUntilClosed()
            #expect(answer.suffix(4) == [0x88, 2, 0x03, 0xE8], "\(answer)")

            // An unmasked frame breaks RFC 6455: 1002, and the connection ends.
            let unmasked = try RawSocket(port: port)
            #expect(await unmasked.handshake().hasPrefix("HTTP/1.1 101"))
            unmasked.send(StockFeed.frame(opcode: 0x1, payload: subscribe, masked: false))
            #expect(closeCode(await unmasked.readUntilClosed()) == 1002)

            // A text frame that is not UTF-8: 1007.
            let garbled = try RawSocket(port: port)
            #expect(await garbled.handshake().hasPrefix("HTTP/1.1 101"))
            garbled.send(StockFeed.frame(opcode: 0x1, payload: [0x7B, 0xC3, 0x28, 0x7D]))
            #expect(closeCode(await garbled.readUntilClosed()) == 1007)

            // A continuation with no message begun: 1002.
            let stray = try RawSocket(port: port)
            #expect(await stray.handshake().hasPrefix("HTTP/1.1 101"))
            stray.send(StockFeed.frame(opcode: 0x0, payload: subscribe))
            #expect(closeCode(await stray.readUntilClosed()) == 1002)
        }

        // A peer that never answers pings is closed by the second one's turn (1001); a client
        // that answers them (StockFeed does) stays.
        var settings = StockSocketSettings()
        settings.pingInterval = .milliseconds(300)
        try await fixture.liveApplication(sockets: settings).test(.live) { client in
            let port = try #require(client.port)
            let silent = try RawSocket(port: port)
            #expect(await silent.handshake().hasPrefix("HTTP/1.1 101"))
            let answering = StockFeed.open(port: port, subscribe: [Self.fig])
            let heard = await silent.readUntilClosed()
            #expect(heard.first == 0x89, "a ping came first")
            let close: [UInt8] = [0x88, UInt8(2 + "ping timeout".utf8.count), 0x03, 0xE9] + Array("ping timeout".utf8)
            #expect(heard.ends(with: close), "then a close, 1001: \(heard)")
            try await Self.setStock(fixture, Self.fig, 42)
            #expect(await eventually { answering.latest[Self.fig] == 42 }, "the client that answers pings is still served")
            answering.close()
        }
    }

    @Test("A client that stops reading is closed as too slow; the others keep receiving")
    func slowClientIsDropped() async throws {
        let fixture = try await RuntimeFixture.make()
        defer { fixture.remove() }
        var settings = StockSocketSettings()
        settings.stallTimeout = .milliseconds(400)
        settings.sendBufferBytes = 8 * 1024
        let metrics = RuntimeMetrics()
        try await fixture.liveApplication(sockets: settings, metrics: metrics).test(.live) { client in
            let port = try #require(client.port)
            // Never reads a byte after the handshake, with a tiny receive buffer.
            let stuck = try RawSocket(port: port, receiveBuffer: 2048)
            #expect(await stuck.handshake().hasPrefix("HTTP/1.1 101"))
            let healthy = StockFeed.open(port: port, query: "?since=0", subscribe: [Self.fig])
            try #require(await eventually { fixture.hub.subscriberCount == 2 }, "\(String(describing: healthy.failure))")

            // Long SKUs make big messages: the stuck client's buffers fill after a few rounds.
            let skus = (0..<100).map { "SLOW-\($0)-" + String(repeating: "x", count: 200) }
            var dropped = false
            for round in 1...300 {
                let product = Product(handle: "slow", title: "Slow", optionNames: ["N"], variants: skus.enumerated().map {
                    Variant(sku: $1, options: ["\($0)"], priceCents: 100, stock: round)
                })
                _ = try await fixture.store.upsert([product])
                fixture.hub.stockChanged()
                try await Self.setStock(fixture, Self.fig, round)
                try #require(await eventually { healthy.latest[Self.fig] == round }, "round \(round): the reading client keeps receiving")
                if metrics.text().contains("ishop_stock_slow_clients_dropped_total 1") {
                    dropped = true
                    break
                }
                try await Task.sleep(for: .milliseconds(20))
            }
            #expect(dropped, "the stuck client was closed")
            #expect(await eventually { fixture.hub.subscriberCount == 1 })
            try await Self.setStock(fixture, Self.fig, 1000)
            #expect(await eventually { healthy.latest[Self.fig] == 1000 })
            #expect(healthy.seqNeverDecreases)
            healthy.close()
        }
    }
}

/// The hub on SQLite, with a change made by another process.
@Suite("Stock hub on SQLite")
struct SQLiteStockHubTests {
    @Test("A change made by another process (an import beside a running runtime) reaches the hub by its poll")
    func pollsForOtherProcesses() async throws {
        let fixture = try await RuntimeFixture.make(.sqlite)
        defer { fixture.remove() }
        let hub = try await StockHub.open(store: fixture.store, settings: .init(pollInterval: .milliseconds(50)))
        let received = Mutex<[StockEvent]>([])
        let events = hub.events()
        let feed = Task { for await event in events { received.withLock { $0.append(event) } } }
        defer { feed.cancel() }
        let running = Task { try await hub.run() }
        defer { running.cancel() }
        // Another connection to the same file: what `ishop import` in another process does.
        let other = try SQLiteStore(path: fixture.opened.location)
        _ = try await other.updateVariant(sku: LiveStockTests.fig, stock: 3, priceCents: nil, now: 1)
        _ = try await other.updateVariant(sku: LiveStockTests.wine, stock: 4, priceCents: nil, now: 1)
        #expect(await eventually { received.withLock { $0.count } == 2 })
        #expect(received.withLock { $0.map(\.sku) } == [LiveStockTests.fig, LiveStockTests.wine])
        try await other.close()
    }
}

/// The hub on PostgreSQL: events committed through one runtime's pool reach another runtime's
/// hub through LISTEN/NOTIFY, and a lost LISTEN connection loses nothing.
@Suite("Stock hub on PostgreSQL")
struct PostgresStockHubTests {
    static var settings: StockHub.Settings {
        StockHub.Settings(pollInterval: nil, reconnectBase: .milliseconds(20), reconnectCap: .milliseconds(200))
    }

    @Test("Events written by another instance reach a listening hub, in order, one read per transaction",
          .enabled(if: Backend.postgresAdminURL != nil, "needs PostgreSQL (scripts/test starts one)"))
    func eventsCrossInstances() async throws {
        let opened = try await Backend.postgres.open()
        defer { opened.remove() }
        let writer = opened.commerce
        _ = try await writer.upsert(["A", "B", "C"].map {
            Product(handle: $0.lowercased(), title: $0, variants: [Variant(sku: $0, options: [], priceCents: 100, stock: 10)])
        })
        let listener = try await StoreLocator.openCommerce(opened.location)
        let hub = try await StockHub.open(store: listener, settings: Self.settings)
        let running = Task { try await hub.run() }
        defer { running.cancel() }
        #expect(await eventually { hub.listenCount == 1 })
        let received = Mutex<[StockEvent]>([])
        let events = hub.events()
        let feed = Task { for await event in events { received.withLock { $0.append(event) } } }
        defer { feed.cancel() }

        let user = try await writer.createUser(email: "x@example.com", passwordHash: "h", role: .customer)
        for sku in ["A", "B", "C"] { _ = try await writer.addToCart(.user(id: user.id), sku: sku, quantity: 2, limits: CartLimits(), now: 1) }
        _ = try await writer.checkout(userID: user.id, idempotencyKey: "k", currency: "EUR", now: 1)
        for stock in 1...20 { _ = try await writer.updateVariant(sku: "B", stock: stock, priceCents: nil, now: 1) }
        let expected = try await writer.stockEvents(after: 0, limit: 1000).filter { $0.seq > 3 }
        #expect(expected.count == 23)
        #expect(await eventually { received.withLock { $0.count } == expected.count })
        #expect(received.withLock { $0 } == expected, "every event, once, in seq order")
        try await listener.close()
        try await writer.close()
    }

    @Test("The LISTEN connection is killed: the hub reconnects and catches up with no gap",
          .enabled(if: Backend.postgresAdminURL != nil, "needs PostgreSQL (scripts/test starts one)"))
    func listenerReconnects() async throws {
        let opened = try await Backend.postgres.open()
        defer { opened.remove() }
        let writer = opened.commerce
        _ = try await writer.upsert([Product(handle: "a", title: "A", variants: [Variant(sku: "A", options: [], priceCents: 100, stock: 0)])])
        let listener = try await StoreLocator.openCommerce(opened.location)
        let hub = try await StockHub.open(store: listener, settings: Self.settings)
        let start = hub.delivered
        let running = Task { try await hub.run() }
        defer { running.cancel() }
        let received = Mutex<[StockEvent]>([])
        let events = hub.events()
        let feed = Task { for await event in events { received.withLock { $0.append(event) } } }
        defer { feed.cancel() }
        #expect(await eventually { hub.listenCount == 1 })

        for round in 1...3 {
            let pid = try #require(hub.listenerBackendPID)
            _ = try await Backend.withAdminConnection(opened.location) { connection in
                try await connection.query("SELECT pg_terminate_backend(\(Int32(pid)))", logger: Logger(label: "test"))
            }
            // Written while the hub has no LISTEN (or is just getting it back): no NOTIFY reaches it.
            for stock in 1...10 { _ = try await writer.updateVariant(sku: "A", stock: round * 100 + stock, priceCents: nil, now: 1) }
            #expect(await eventually { hub.listenCount > round })
        }
        let expected = try await writer.stockEvents(after: start, limit: 1000)
        #expect(expected.count == 30)
        #expect(await eventually { received.withLock { $0.count } == expected.count })
        #expect(received.withLock { $0 } == expected, "nothing lost, nothing twice, never backwards")
        try await listener.close()
        try await writer.close()
    }
}
