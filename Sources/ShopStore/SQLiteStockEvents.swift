import Foundation
import GRDB

/// The events table on SQLite. Writers are serialised by SQLite itself, so seq order is commit
/// order without any lock of ours.
extension SQLiteStore: StockEventLog {
    /// Writes one event per changed SKU, inside the caller's write transaction.
    static func recordStockEvents(_ changes: [(sku: String, stock: Int)], db: Database) throws {
        let now = Int64(Date().timeIntervalSince1970)
        for change in StockChanges.latestPerSKU(changes) {
            try db.cachedStatement(sql: "INSERT INTO stock_events (sku, stock, created_at) VALUES (?, ?, ?)")
                .execute(arguments: [change.sku, change.stock, now])
        }
    }

    public func stockEvents(after seq: Int64, limit: Int) async throws -> [StockEvent] {
        try await pool.read { db in
            try Row.fetchAll(db, sql: "SELECT seq, sku, stock FROM stock_events WHERE seq > ? ORDER BY seq LIMIT ?",
                             arguments: [seq, max(1, limit)])
                .map { StockEvent(sku: $0[1], stock: $0[2], seq: $0[0]) }
        }
    }

    public func stockEventHorizon() async throws -> StockEventHorizon {
        try await pool.read { db in try Self.horizon(db) }
    }

    static func horizon(_ db: Database) throws -> StockEventHorizon {
        let row = try Row.fetchOne(db, sql: """
            SELECT (SELECT COALESCE(MAX(seq), 0) FROM stock_events), pruned_through FROM stock_event_horizon WHERE id = 1
            """)
        let newest: Int64 = row?[0] ?? 0
        let pruned: Int64 = row?[1] ?? 0
        return StockEventHorizon(latest: max(newest, pruned), prunedThrough: pruned)
    }

    public func latestStockEvents(after: Int64, through: Int64, skus: [String]?) async throws -> [StockEvent] {
        guard through > after else { return [] }
        return try await pool.read { db in
            var filter = ""
            var arguments: StatementArguments = [after, through]
            if let skus {
                guard !skus.isEmpty else { return [] }
                filter = "AND sku IN (\(databaseQuestionMarks(count: skus.count)))"
                arguments += StatementArguments(skus)
            }
            // SQLite fills the bare column `stock` from the row that holds MAX(seq).
            return try Row.fetchAll(db, sql: """
                SELECT MAX(seq), sku, stock FROM stock_events WHERE seq > ? AND seq <= ? \(filter) GROUP BY sku ORDER BY 1
                """, arguments: arguments)
                .map { StockEvent(sku: $0[1], stock: $0[2], seq: $0[0]) }
        }
    }

    public func allStock() async throws -> [String: Int] {
        try await pool.read { db in
            var result: [String: Int] = [:]
            let rows = try Row.fetchCursor(db, sql: """
                SELECT v.sku, v.stock FROM variants v JOIN products p ON p.id = v.product_id WHERE p.published = 1
                """)
            while let row = try rows.next() { result[row[0]] = row[1] }
            return result
        }
    }

    @discardableResult
    public func pruneStockEvents(keepingNewest keep: Int) async throws -> Int {
        try await pool.write { db in
            let horizon = try Self.horizon(db)
            let cut = horizon.latest - Int64(max(1, keep))
            guard cut > horizon.prunedThrough else { return 0 }
            try db.execute(sql: "DELETE FROM stock_events WHERE seq <= ?", arguments: [cut])
            let deleted = db.changesCount
            try db.execute(sql: "UPDATE stock_event_horizon SET pruned_through = ? WHERE id = 1", arguments: [cut])
            return deleted
        }
    }
}
