import Foundation
import Logging
import PostgresNIO

/// The events table on PostgreSQL, and the NOTIFY that tells every runtime to read it.
extension PostgresStore: StockEventLog, StockEventNotifier {
    /// The LISTEN/NOTIFY channel of stock events.
    static let stockChannel = "ishop_stock"

    /// Taken by every transaction right before it writes stock events, held until it commits: the
    /// identity values are then handed out in commit order, so a reader that sees seq N has every
    /// event below N visible too (without it, a transaction holding seq 10 could commit after
    /// one holding seq 11, and a runtime that read 11 would skip 10 for ever). The section it
    /// serialises is short, at the very end of a transaction; PostgreSQL serialises committing
    /// notifiers anyway (the NOTIFY queue lock).
    static let stockEventsLock: Int64 = 0x6973_686F_7073_7463  // "ishopstc"

    /// Writes one event per changed SKU and one NOTIFY for the whole transaction (its payload is
    /// the seq range "first last"; listeners read the rows themselves, so the payload never nears
    /// PostgreSQL's 8000-byte limit however large an import is). Call it last in a transaction.
    static func recordStockEvents(_ changes: [(sku: String, stock: Int)], connection: PostgresConnection, logger: Logger) async throws {
        let latest = StockChanges.latestPerSKU(changes)
        guard !latest.isEmpty else { return }
        let now = Int64(Date().timeIntervalSince1970)
        try await connection.query("SELECT pg_advisory_xact_lock(\(stockEventsLock))", logger: logger)
        let skus = latest.map(\.sku), stocks = latest.map(\.stock)
        var range: (Int64, Int64)?
        for try await row in try await connection.query("""
            WITH written AS (
                INSERT INTO stock_events (sku, stock, created_at)
                SELECT u.sku, u.stock, \(now) FROM UNNEST(\(skus)::text[], \(stocks)::int8[]) WITH ORDINALITY AS u(sku, stock, n)
                ORDER BY u.n RETURNING seq
            )
            SELECT MIN(seq), MAX(seq) FROM written
            """, logger: logger).decode((Int64, Int64).self) { range = row }
        guard let (first, last) = range else { return }
        try await connection.query("SELECT pg_notify(\(stockChannel), \("\(first) \(last)"))", logger: logger)
    }

    public func stockEvents(after seq: Int64, limit: Int) async throws -> [StockEvent] {
        let rows = try await client.query("""
            SELECT seq, sku, stock FROM stock_events WHERE seq > \(seq) ORDER BY seq LIMIT \(max(1, limit))
            """, logger: logger)
        var events: [StockEvent] = []
        for try await (seq, sku, stock) in rows.decode((Int64, String, Int).self) { events.append(StockEvent(sku: sku, stock: stock, seq: seq)) }
        return events
    }

    public func stockEventHorizon() async throws -> StockEventHorizon {
        let rows = try await client.query("""
            SELECT (SELECT COALESCE(MAX(seq), 0) FROM stock_events), pruned_through FROM stock_event_horizon WHERE id = 1
            """, logger: logger)
        for try await (newest, pruned) in rows.decode((Int64, Int64).self) {
            return StockEventHorizon(latest: max(newest, pruned), prunedThrough: pruned)
        }
        return StockEventHorizon(latest: 0, prunedThrough: 0)
    }

    public func latestStockEvents(after: Int64, through: Int64, skus: [String]?) async throws -> [StockEvent] {
        guard through > after else { return [] }
        let rows: PostgresRowSequence
        if let skus {
            guard !skus.isEmpty else { return [] }
            rows = try await client.query("""
                SELECT DISTINCT ON (sku) seq, sku, stock FROM stock_events
                WHERE seq > \(after) AND seq <= \(through) AND sku = ANY(\(skus)) ORDER BY sku, seq DESC
                """, logger: logger)
        } else {
            rows = try await client.query("""
                SELECT DISTINCT ON (sku) seq, sku, stock FROM stock_events
                WHERE seq > \(after) AND seq <= \(through) ORDER BY sku, seq DESC
                """, logger: logger)
        }
        var events: [StockEvent] = []
        for try await (seq, sku, stock) in rows.decode((Int64, String, Int).self) { events.append(StockEvent(sku: sku, stock: stock, seq: seq)) }
        return events.sorted { $0.seq < $1.seq }
    }

    public func allStock() async throws -> [String: Int] {
        let rows = try await client.query("""
            SELECT v.sku, v.stock FROM variants v JOIN products p ON p.id = v.product_id WHERE p.published
            """, logger: logger)
        var result: [String: Int] = [:]
        for try await (sku, stock) in rows.decode((String, Int).self) { result[sku] = stock }
        return result
    }

    @discardableResult
    public func pruneStockEvents(keepingNewest keep: Int) async throws -> Int {
        let keep = Int64(max(1, keep))
        return try await Self.unwrappingTransactionErrors {
            try await client.withTransaction(logger: logger) { connection in
                // The horizon row is locked first, so two runtimes pruning at once take turns.
                var pruned: Int64 = 0
                for try await value in try await connection.query("""
                    SELECT pruned_through FROM stock_event_horizon WHERE id = 1 FOR UPDATE
                    """, logger: logger).decode(Int64.self) { pruned = value }
                var newest: Int64 = 0
                for try await value in try await connection.query("SELECT COALESCE(MAX(seq), 0) FROM stock_events", logger: logger)
                    .decode(Int64.self) { newest = value }
                let cut = newest - keep
                guard cut > pruned else { return 0 }
                var deleted = 0
                for try await count in try await connection.query("""
                    WITH gone AS (DELETE FROM stock_events WHERE seq <= \(cut) RETURNING 1) SELECT COUNT(*) FROM gone
                    """, logger: logger).decode(Int.self) { deleted = count }
                try await connection.query("UPDATE stock_event_horizon SET pruned_through = \(cut) WHERE id = 1", logger: logger)
                return deleted
            }
        }
    }

    public func listenForStockEvents(
        listening: @Sendable (_ backendPID: Int) async throws -> Void,
        notified: @Sendable (_ payload: String) async -> Void
    ) async throws {
        let connection = try await PostgresConnection.connect(configuration: connectionConfiguration, id: 1, logger: logger)
        do {
            var pid = 0
            for try await value in try await connection.query("SELECT pg_backend_pid()", logger: logger).decode(Int.self) { pid = value }
            try await connection.listen(on: Self.stockChannel) { notifications in
                try await listening(pid)
                for try await notification in notifications { await notified(notification.payload) }
            }
        } catch {
            try? await connection.close()
            throw error
        }
        try? await connection.close()
    }
}
