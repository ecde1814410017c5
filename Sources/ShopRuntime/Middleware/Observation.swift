import Foundation
import Hummingbird
import HummingbirdCore
import Logging
import NIOCore
import Prometheus
import Synchronization

/// The runtime's Prometheus metrics, in a registry of its own (no global bootstrap, so several
/// runtimes in one test process never share counters).
public final class RuntimeMetrics: Sendable {
    public let registry = PrometheusCollectorRegistry()
    let inFlight: Gauge
    let openConnections: Gauge
    let openWebSockets: Gauge
    let stockMessagesSent: Counter
    let slowClientsDropped: Counter

    public init() {
        inFlight = registry.makeGauge(descriptor: MetricNameDescriptor(
            namespace: "ishop", metricName: "http_requests_in_flight", unitName: "",
            helpText: "Requests being served now."))
        openConnections = registry.makeGauge(descriptor: MetricNameDescriptor(
            namespace: "ishop", metricName: "http_connections_open", unitName: "",
            helpText: "TCP connections open now (idle keep-alive ones included)."))
        openWebSockets = registry.makeGauge(descriptor: MetricNameDescriptor(
            namespace: "ishop", metricName: "websocket_connections_open", unitName: "",
            helpText: "Stock WebSocket connections open now."))
        stockMessagesSent = registry.makeCounter(descriptor: MetricNameDescriptor(
            namespace: "ishop", metricName: "stock_messages_sent", unitName: "total",
            helpText: "Stock messages written to WebSocket clients."))
        slowClientsDropped = registry.makeCounter(descriptor: MetricNameDescriptor(
            namespace: "ishop", metricName: "stock_slow_clients_dropped", unitName: "total",
            helpText: "WebSocket clients closed for not keeping up."))
    }

    /// The collectors of each (method, route, status), looked up once: the registry's own lookup
    /// by name and labels is too slow to pay on every request.
    private struct RouteCollectors {
        var counters: [String: Counter] = [:]
        var histograms: [String: DurationHistogram] = [:]
    }
    private let collectors = Mutex(RouteCollectors())

    func requestFinished(method: String, route: String, status: Int, duration: Duration) {
        let routeKey = method + " " + route
        let counterKey = routeKey + " " + String(status)
        let (counter, histogram) = collectors.withLock { cache -> (Counter, DurationHistogram) in
            let counter = cache.counters[counterKey] ?? {
                let made = registry.makeCounter(descriptor: MetricNameDescriptor(
                    namespace: "ishop", metricName: "http_requests", unitName: "total", helpText: "Requests served, by route and status."),
                    labels: [("method", method), ("route", route), ("status", String(status))])
                cache.counters[counterKey] = made
                return made
            }()
            let histogram = cache.histograms[routeKey] ?? {
                let made = registry.makeDurationHistogram(descriptor: MetricNameDescriptor(
                    namespace: "ishop", metricName: "http_request_duration", unitName: "seconds", helpText: "Time to answer, by route."),
                    labels: [("method", method), ("route", route)], buckets: Self.buckets)
                cache.histograms[routeKey] = made
                return made
            }()
            return (counter, histogram)
        }
        counter.increment()
        histogram.record(duration)
    }

    func checkoutFinished(_ outcome: String) {
        registry.makeCounter(descriptor: MetricNameDescriptor(
            namespace: "ishop", metricName: "checkouts", unitName: "total", helpText: "Checkouts, by outcome."),
            labels: [("outcome", outcome)]).increment()
    }

    static let buckets: [Duration] = [
        .microseconds(500), .milliseconds(1), .milliseconds(2), .milliseconds(5), .milliseconds(10), .milliseconds(25),
        .milliseconds(50), .milliseconds(100), .milliseconds(250), .milliseconds(500), .seconds(1), .seconds(2.5), .seconds(5),
    ]

    public func text() -> String { registry.emitToString() }
}

/// The outermost middleware: gives every request an id (a well-formed incoming X-Request-Id from
/// a proxy is kept, so one id follows a request through Nginx and us), puts it on every log line
/// and response, writes one structured access-log line, and records the request's metrics.
struct ObservationMiddleware: RouterMiddleware {
    typealias Context = ShopRequestContext
    let metrics: RuntimeMetrics

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        var context = context
        let id = request.headers[.xRequestID].flatMap { Self.isWellFormed($0) ? $0 : nil }
            ?? Self.newID()
        context.requestID = id
        context.logger[metadataKey: "request_id"] = .string(id)
        let start = ContinuousClock.now
        metrics.inFlight.increment()
        defer { metrics.inFlight.decrement() }
        var response: Response
        do {
            response = try await next(request, context)
        } catch {
            // Everything below is shaped by ErrorShapeMiddleware; this is only the last resort.
            context.logger.error("request failed outside the error shaper", metadata: ["error": "\(String(reflecting: error))"])
            response = try APIError(.internalServerError, "internal_error", "Something went wrong on our side; it has been logged.")
                .response(from: request, context: context)
        }
        response.headers[.xRequestID] = id
        let duration = ContinuousClock.now - start
        // The matched route's pattern, never the raw path: bounded label values.
        let route = context.endpointPath ?? "unmatched"
        metrics.requestFinished(method: request.method.rawValue, route: route, status: response.status.code, duration: duration)
        context.logger.info("request", metadata: [
            "method": .string(request.method.rawValue),
            "path": .string(String(request.uri.path.prefix(200))),
            "status": .stringConvertible(response.status.code),
            "duration_ms": .string(String(format: "%.2f", Double(duration.components.attoseconds) / 1e15 + Double(duration.components.seconds) * 1000)),
        ])
        return response
    }

    /// 128 random bits as 32 hex digits: two calls to the generator, no formatting machinery
    /// (this runs on every request).
    static func newID() -> String {
        var generator = SystemRandomNumberGenerator()
        let words = [generator.next(), generator.next()] as [UInt64]
        let digits = Array("0123456789abcdef".utf8)
        var bytes: [UInt8] = []
        bytes.reserveCapacity(32)
        for word in words {
            for shift in stride(from: 60, through: 0, by: -4) { bytes.append(digits[Int((word >> UInt64(shift)) & 0xF)]) }
        }
        return String(decoding: bytes, as: UTF8.self)
    }

    static func isWellFormed(_ id: String) -> Bool {
        (8...64).contains(id.utf8.count)
            && id.utf8.allSatisfy { ($0 >= 0x30 && $0 <= 0x39) || ($0 >= 0x41 && $0 <= 0x5A) || ($0 >= 0x61 && $0 <= 0x7A) || $0 == 0x2D }
    }
}

/// Counts a connection from the moment its pipeline is built until it is torn down.
final class OpenConnectionsHandler: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = NIOAny
    let gauge: Gauge

    init(gauge: Gauge) { self.gauge = gauge }

    func handlerAdded(context: ChannelHandlerContext) { gauge.increment() }
    func handlerRemoved(context: ChannelHandlerContext) { gauge.decrement() }
}
