import Foundation
import Hummingbird
import Logging
import NIOCore
import NIOWebSocket
import ShopCore
import ShopStore
import Synchronization

/// Limits of /ws/stock (API.md "WebSocket /ws/stock").
public struct StockSocketSettings: Sendable {
    /// Inbound frames and messages over this close the connection (1009).
    public var maxFrameSize = 4096
    /// SKUs one `subscribe` may list.
    public var maxSubscribedSKUs = 500
    /// SKUs waiting to be sent on one connection; more and the client is closed as too slow
    /// (1013). Latest-value-per-SKU coalescing means only a client subscribed to very many SKUs
    /// (or to every SKU) can reach it.
    public var maxPendingSKUs = 20_000
    /// One write stuck this long (the client stopped reading, every buffer is full): closed (1013).
    public var stallTimeout: Duration = .seconds(10)
    /// Server pings; a peer that has not answered a ping by the next one is closed (hummingbird-
    /// websocket's auto-ping, so a dead peer is gone within two periods).
    public var pingInterval: Duration = .seconds(25)
    /// A client resuming with ?since= may send its `subscribe` first: the catch-up waits this long
    /// for it, so that it covers exactly the subscription.
    public var subscribeGrace: Duration = .milliseconds(250)
    /// SO_SNDBUF of each socket; nil: the system's.
    public var sendBufferBytes: Int? = 64 * 1024
    /// Bad messages (not JSON, wrong shape, too many SKUs) answered with an error before the
    /// connection is closed (1008).
    public var maxBadMessages = 3

    public init() {}
}

/// The handshake's rules, shared by the upgrade (StockSocketChannel) and the plain HTTP route
/// that answers a refused one.
enum StockSocketRequest: Equatable {
    case accept(since: Int64?)
    case reject(HTTPResponse.Status, code: String, message: String)
    case notOurs

    static let path = "/ws/stock"

    /// A request without an Origin header is accepted: browsers always send one on a WebSocket
    /// handshake (so cross-site WebSocket hijacking is still refused), and non-browser clients
    /// (monitoring, other services, the benchmark) send none and could forge any anyway.
    static func check(uri: String, origin: String?, policy: OriginPolicy) -> StockSocketRequest {
        let parts = uri.split(separator: "?", maxSplits: 1, omittingEmptySubsequences: false)
        guard parts.first.map(String.init) == path else { return .notOurs }
        if let origin, !policy.allows(origin) {
            return .reject(.forbidden, code: "origin_not_allowed", message: "This origin may not open the stock feed.")
        }
        var since: Int64?
        if parts.count == 2 {
            for item in parts[1].split(separator: "&") where item.hasPrefix("since=") {
                guard since == nil else { return .reject(.badRequest, code: "invalid_since", message: "Give since once.") }
                let value = item.dropFirst("since=".count)
                // Digits only: no sign, no spaces, no percent-encoding; at most Int64.max.
                guard (1...19).contains(value.utf8.count), value.utf8.allSatisfy({ $0 >= 0x30 && $0 <= 0x39 }),
                      let number = Int64(value)
                else {
                    return .reject(.badRequest, code: "invalid_since",
                                   message: "since must be the seq of the last stock message received: a whole number from 0.")
                }
                since = number
            }
        }
        return .accept(since: since)
    }
}

/// Everything /ws/stock connections share: the hub, the store (for catch-ups and snapshots),
/// the origin policy, the limits and the metrics.
final class StockSockets: Sendable {
    let hub: StockHub
    let policy: OriginPolicy
    let settings: StockSocketSettings
    let metrics: RuntimeMetrics
    /// The open connections' subscribers, for the one stall watchdog they share. A watchdog task
    /// per connection was one more task (and its allocator slabs) for each of 10,000 sockets.
    /// Whether the one stall watchdog runs (while the hub has subscribers). A watchdog task per
    /// connection was one more task (and its allocator slabs) for each of 10,000 sockets.
    private let watchdogRunning = Mutex(false)

    init(hub: StockHub, policy: OriginPolicy, settings: StockSocketSettings, metrics: RuntimeMetrics) {
        self.hub = hub
        self.policy = policy
        self.settings = settings
        self.metrics = metrics
    }

    struct ClientMessage: Decodable {
        let subscribe: [String]?
    }

    /// The plain HTTP answer to GET /ws/stock: why it was not upgraded.
    func addRoutes(to router: Router<ShopRequestContext>) {
        let policy = self.policy
        router.get(RouterPath(stringLiteral: StockSocketRequest.path)) { request, _ -> Response in
            let uri = request.uri.query.map { "\(request.uri.path)?\($0)" } ?? request.uri.path
            switch StockSocketRequest.check(uri: uri, origin: request.headers[.origin], policy: policy) {
            case .reject(let status, let code, let message):
                throw APIError(status, code, message)
            case .accept, .notOurs:
                // A plain GET, or a handshake on a reused keep-alive connection.
                throw APIError(.upgradeRequired, "upgrade_required", "Open this URL as a WebSocket, on a new connection.")
            }
        }
    }

    /// Makes sure the watchdog runs; called once a connection's subscriber is in the hub.
    func startWatchdog() {
        let start = watchdogRunning.withLock { running -> Bool in
            defer { running = true }
            return !running
        }
        guard start else { return }
        // The watchdog: a socket that has taken nothing for too long means the client stopped
        // reading; the subscriber is closed as too slow (1013, then the socket). It checks the
        // hub's own subscribers, and stops when there are none (deciding that under its flag's
        // lock, so a connection added meanwhile either is seen or starts a new watchdog).
        let period = settings.stallTimeout / 4
        let limit = settings.stallTimeout
        Task { [weak self] in
            while true {
                try? await Task.sleep(for: period)
                guard let self else { return }
                let subscribers = self.watchdogRunning.withLock { running -> [StockSubscriber]? in
                    let subscribers = self.hub.subscribers
                    if subscribers.isEmpty { running = false }
                    return subscribers.isEmpty ? nil : subscribers
                }
                guard let subscribers else { return }
                for subscriber in subscribers { _ = subscriber.checkStalled(limit: limit) }
            }
        }
    }

    /// What a client resuming after `since` missed, up to `position` (the hub sends everything
    /// after it): the newest value of each subscribed SKU changed since, or a full snapshot when
    /// that cannot be told (events pruned, or a seq this database never gave).
    func catchUp(_ subscriber: StockSubscriber, since: Int64, position: Int64) async throws {
        let store = hub.store
        let horizon = try await store.stockEventHorizon()
        let filter = subscriber.filter
        if since > horizon.latest || since < horizon.prunedThrough {
            try await subscriber.offerCatchUp(snapshot(filter, through: position))
            subscriber.release(floor: since > horizon.latest ? 0 : since)
            return
        }
        if since < position {
            let missed = try await store.latestStockEvents(after: since, through: position, skus: filter.map { Array($0) })
            subscriber.offerCatchUp(missed.map(StockMessage.init))
        }
        subscriber.release(floor: since)
    }

    func snapshot(_ filter: Set<String>?, through seq: Int64) async throws -> [StockMessage] {
        let stock = if let filter { try await hub.store.stock(skus: Array(filter)) } else { try await hub.store.allStock() }
        return stock.sorted { $0.key < $1.key }.map { StockMessage(StockEvent(sku: $0.key, stock: $0.value, seq: seq)) }
    }
}
