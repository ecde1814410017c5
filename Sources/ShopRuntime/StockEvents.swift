import Foundation
import Synchronization

/// One committed change of a SKU's stock.
public struct StockEvent: Sendable, Equatable {
    public var sku: String
    public var stock: Int
    /// Increases strictly with every event this process publishes.
    public var seq: Int64

    public init(sku: String, stock: Int, seq: Int64) {
        self.sku = sku
        self.stock = stock
        self.seq = seq
    }
}

/// Where committed stock changes go (checkout, admin edits). The WebSocket issue consumes them;
/// a PostgreSQL LISTEN/NOTIFY hub can stand behind the same protocol later.
public protocol StockEvents: Sendable {
    /// Called after the transaction that changed these SKUs committed.
    func publish(_ changes: [(sku: String, stock: Int)])
}

/// The in-process hub: every subscriber gets every event, through a bounded buffer that keeps
/// the newest events (stock is state: a slow reader may skip steps, never the latest value).
public final class StockHub: StockEvents {
    private struct State {
        var seq: Int64 = 0
        var nextID = 0
        var subscribers: [Int: AsyncStream<StockEvent>.Continuation] = [:]
    }

    private let state = Mutex(State())

    public init() {}

    public func publish(_ changes: [(sku: String, stock: Int)]) {
        guard !changes.isEmpty else { return }
        state.withLock { state in
            for change in changes {
                state.seq += 1
                let event = StockEvent(sku: change.sku, stock: change.stock, seq: state.seq)
                for continuation in state.subscribers.values { continuation.yield(event) }
            }
        }
    }

    /// A stream of every event published from now on; it ends when the subscriber stops reading.
    public func subscribe(bufferingNewest limit: Int = 1024) -> AsyncStream<StockEvent> {
        let (stream, continuation) = AsyncStream<StockEvent>.makeStream(bufferingPolicy: .bufferingNewest(limit))
        let id = state.withLock { state in
            state.nextID += 1
            state.subscribers[state.nextID] = continuation
            return state.nextID
        }
        continuation.onTermination = { [weak self] _ in
            _ = self?.state.withLock { $0.subscribers.removeValue(forKey: id) }
        }
        return stream
    }

    /// The sequence number of the last event published.
    public var lastSeq: Int64 { state.withLock { $0.seq } }
}
