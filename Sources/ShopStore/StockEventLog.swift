import Foundation
import ShopCore

/// One committed change of a SKU's stock, as the events table keeps it.
public struct StockEvent: Sendable, Equatable, Hashable {
    public var sku: String
    /// The stock right after the change.
    public var stock: Int
    /// The event's place in the events table: strictly increasing across every runtime that shares
    /// the database, in commit order (see StockEventLog).
    public var seq: Int64

    public init(sku: String, stock: Int, seq: Int64) {
        self.sku = sku
        self.stock = stock
        self.seq = seq
    }
}

/// What the events table can answer for: everything after `prunedThrough`.
public struct StockEventHorizon: Sendable, Equatable {
    /// The highest seq committed so far (0 when nothing ever changed).
    public var latest: Int64
    /// Events up to and including this seq may have been pruned.
    public var prunedThrough: Int64

    public init(latest: Int64, prunedThrough: Int64) {
        self.latest = latest
        self.prunedThrough = prunedThrough
    }
}

/// The `stock_events` table: every committed stock change (checkout, admin edit, import, a
/// decrement) writes its rows in the same transaction as the change, so a rolled-back change
/// leaves none, and a runtime can always tell what changed after a given seq.
///
/// Seq order is commit order: SQLite has one writer at a time; on PostgreSQL the writers take a
/// transaction-level advisory lock right before inserting their events and keep it until they
/// commit, so a reader that sees seq N sees every event below N. (Identity values may still skip
/// numbers after a failed commit; seq is increasing, not dense.)
public protocol StockEventLog: Sendable {
    /// Events with seq greater than `seq`, oldest first, at most `limit`.
    func stockEvents(after seq: Int64, limit: Int) async throws -> [StockEvent]

    func stockEventHorizon() async throws -> StockEventHorizon

    /// The newest event of each SKU (of `skus`, or of every SKU when nil) with `after < seq <= through`,
    /// oldest first: what a client that saw everything up to `after` has missed.
    func latestStockEvents(after: Int64, through: Int64, skus: [String]?) async throws -> [StockEvent]

    /// The stock of every variant of a published product: a full snapshot for a client that asked
    /// for every SKU and whose place in the events cannot be told any more.
    func allStock() async throws -> [String: Int]

    /// Deletes events so that only about the newest `keep` remain, and moves the horizon; returns
    /// how many were deleted. Safe to run from several runtimes at once.
    @discardableResult
    func pruneStockEvents(keepingNewest keep: Int) async throws -> Int
}

/// A database that announces committed stock events to other processes (PostgreSQL's
/// LISTEN/NOTIFY). SQLite has no such thing: its runtime reads the table after its own commits
/// and polls it for other processes' (an `ishop import` next to a running `ishop serve`).
public protocol StockEventNotifier: Sendable {
    /// Opens a dedicated connection, LISTENs, calls `listening` with the server process id of that
    /// connection once LISTEN is in place, then `notified` for every notification, until the
    /// connection fails (it throws) or the task is cancelled. Notifications are not stored by the
    /// server: the caller must read the events table after `listening` to catch up.
    func listenForStockEvents(
        listening: @Sendable (_ backendPID: Int) async throws -> Void,
        notified: @Sendable (_ payload: String) async -> Void
    ) async throws
}

/// Stock changes of one transaction, as the write paths collect them.
enum StockChanges {
    /// The last value given for each SKU, in the order the SKUs first appear: a transaction that
    /// touches a SKU twice (an import that drops a variant and gives it to another product)
    /// writes one event with the final value.
    static func latestPerSKU(_ changes: [(sku: String, stock: Int)]) -> [(sku: String, stock: Int)] {
        var order: [String] = []
        var values: [String: Int] = [:]
        for change in changes {
            if values.updateValue(change.stock, forKey: change.sku) == nil { order.append(change.sku) }
        }
        return order.map { ($0, values[$0]!) }
    }

    /// What an import batch does to stock: new variants, and variants whose stock differs from
    /// what is stored. `existing`: the stored products of the batch, by handle.
    static func imported(_ batch: [Product], existing: [String: Product]) -> [(sku: String, stock: Int)] {
        var changes: [(sku: String, stock: Int)] = []
        for product in batch {
            let stored = Dictionary((existing[product.handle]?.variants ?? []).map { ($0.sku, $0.stock) },
                                    uniquingKeysWith: { first, _ in first })
            for variant in product.variants where stored[variant.sku] != variant.stock {
                changes.append((variant.sku, variant.stock))
            }
        }
        return changes
    }
}
