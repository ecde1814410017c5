import Foundation
import Logging
import PostgresNIO
import ShopCore
import ShopStore
import ShopTestSupport
import Synchronization
import Testing

/// The stock events table (issue 7): every committed stock change writes its events in the same
/// transaction, nothing else does, and the table answers "what changed after seq N".
@Suite("Store contract: stock events")
struct StockEventsContractTests {
    static let limits = CartLimits()

    @Test("Checkouts, admin edits and imports write events; refused and rolled-back changes write none",
          arguments: Backend.available)
    func writesOnlyCommittedChanges(backend: Backend) async throws {
        let opened = try await backend.open()
        defer { opened.remove() }
        let store = opened.commerce
        _ = try await store.upsert([Sample.simple(handle: "a", sku: "A", stock: 5), Sample.simple(handle: "b", sku: "B", stock: 1)])
        let afterImport = try await store.stockEvents(after: 0, limit: 100)
        #expect(afterImport.map(\.sku) == ["A", "B"], "an import announces the stock of new variants")
        #expect(afterImport.map(\.stock) == [5, 1])
        let start = try await store.stockEventHorizon().latest
        #expect(start == afterImport.last?.seq)

        // An import that changes nothing about stock announces nothing.
        _ = try await store.upsert([Sample.simple(handle: "a", sku: "A", priceCents: 999, stock: 5)])
        #expect(try await store.stockEventHorizon().latest == start)

        let user = try await store.createUser(email: "e@example.com", passwordHash: "h", role: .customer)
        _ = try await store.addToCart(.user(id: user.id), sku: "A", quantity: 2, limits: Self.limits, now: 1)
        _ = try await store.addToCart(.user(id: user.id), sku: "B", quantity: 2, limits: Self.limits, now: 1)
        // A is taken first (SKU order), then B fails: the transaction rolls back, A's event with it.
        #expect(try await store.checkout(userID: user.id, idempotencyKey: "k1", currency: "EUR", now: 2)
            == .insufficientStock(sku: "B", available: 1))
        #expect(try await store.stockEventHorizon().latest == start, "a rolled-back checkout leaves no event")
        #expect(try await store.stockEvents(after: start, limit: 100).isEmpty)

        _ = try await store.setCartQuantity(.user(id: user.id), sku: "B", quantity: 1, limits: Self.limits, now: 3)
        guard case .placed = try await store.checkout(userID: user.id, idempotencyKey: "k2", currency: "EUR", now: 3) else {
            Issue.record("the checkout should have placed an order")
            return
        }
        // The same key again: a replay takes nothing and announces nothing.
        _ = try await store.checkout(userID: user.id, idempotencyKey: "k2", currency: "EUR", now: 4)
        let checkout = try await store.stockEvents(after: start, limit: 100)
        #expect(checkout.map(\.sku) == ["A", "B"])
        #expect(checkout.map(\.stock) == [3, 0])
        #expect(zip(checkout, checkout.dropFirst()).allSatisfy { $0.seq < $1.seq })

        _ = try await store.updateVariant(sku: "A", stock: nil, priceCents: 1, now: 5)
        #expect(try await store.stockEventHorizon().latest == checkout.last?.seq, "a price-only edit announces nothing")
        _ = try await store.updateVariant(sku: "A", stock: 9, priceCents: nil, now: 6)
        _ = try await store.addToCart(.user(id: user.id), sku: "A", quantity: 4, limits: Self.limits, now: 7)
        guard case .placed = try await store.checkout(userID: user.id, idempotencyKey: "k3", currency: "EUR", now: 7) else {
            Issue.record("the second checkout should have placed an order")
            return
        }
        _ = try await store.addToCart(.user(id: user.id), sku: "A", quantity: 40, limits: Self.limits, now: 8)
        #expect(try await store.checkout(userID: user.id, idempotencyKey: "k4", currency: "EUR", now: 8)
            == .insufficientStock(sku: "A", available: 5))
        let later = try await store.stockEvents(after: checkout.last!.seq, limit: 100)
        #expect(later.map(\.stock) == [9, 5], "the admin edit and the checkout; the refused checkout none")
        try await store.close()
    }

    @Test("What changed after a seq: the newest value per SKU, filtered, bounded above", arguments: Backend.available)
    func latestPerSKU(backend: Backend) async throws {
        let opened = try await backend.open()
        defer { opened.remove() }
        let store = opened.commerce
        _ = try await store.upsert(["A", "B", "C"].map { Sample.simple(handle: $0.lowercased(), sku: $0, stock: 10) })
        let base = try await store.stockEventHorizon().latest
        _ = try await store.updateVariant(sku: "A", stock: 1, priceCents: nil, now: 1)
        _ = try await store.updateVariant(sku: "B", stock: 2, priceCents: nil, now: 1)
        _ = try await store.updateVariant(sku: "A", stock: 3, priceCents: nil, now: 1)
        let top = try await store.stockEventHorizon().latest
        _ = try await store.updateVariant(sku: "C", stock: 4, priceCents: nil, now: 1)

        let all = try await store.latestStockEvents(after: base, through: top, skus: nil)
        #expect(all.map(\.sku) == ["B", "A"], "oldest first; C changed after `through`")
        #expect(all.map(\.stock) == [2, 3])
        #expect(try await store.latestStockEvents(after: base, through: top, skus: ["A", "C", "ZZZ"]).map(\.stock) == [3])
        #expect(try await store.latestStockEvents(after: top, through: top, skus: nil).isEmpty)
        #expect(try await store.allStock() == ["A": 3, "B": 2, "C": 4])
        try await store.close()
    }

    @Test("Pruning keeps the newest events and moves the horizon; seqs are never reused", arguments: Backend.available)
    func pruning(backend: Backend) async throws {
        let opened = try await backend.open()
        defer { opened.remove() }
        let store = opened.commerce
        _ = try await store.upsert([Sample.simple(handle: "a", sku: "A", stock: 0)])
        for stock in 1...10 { _ = try await store.updateVariant(sku: "A", stock: stock, priceCents: nil, now: 1) }
        let before = try await store.stockEventHorizon()
        #expect(before.prunedThrough == 0)
        let deleted = try await store.pruneStockEvents(keepingNewest: 3)
        #expect(deleted == 8)
        let after = try await store.stockEventHorizon()
        #expect(after.latest == before.latest)
        #expect(after.prunedThrough == before.latest - 3)
        #expect(try await store.stockEvents(after: 0, limit: 100).count == 3)
        #expect(try await store.pruneStockEvents(keepingNewest: 3) == 0, "nothing more to prune")
        _ = try await store.updateVariant(sku: "A", stock: 99, priceCents: nil, now: 1)
        #expect(try await store.stockEventHorizon().latest > before.latest)
        try await store.close()
    }

    /// PostgreSQL only: one NOTIFY per committing transaction, carrying its seq range.
    @Test("PostgreSQL: a checkout of three SKUs sends one notification with its seq range", .enabled(if: Backend.postgresAdminURL != nil, "needs PostgreSQL (scripts/test starts one)"))
    func oneNotificationPerTransaction() async throws {
        let opened = try await Backend.postgres.open()
        defer { opened.remove() }
        let store = opened.commerce
        _ = try await store.upsert(["A", "B", "C"].map { Sample.simple(handle: $0.lowercased(), sku: $0, stock: 10) })
        let user = try await store.createUser(email: "n@example.com", passwordHash: "h", role: .customer)
        for sku in ["A", "B", "C"] { _ = try await store.addToCart(.user(id: user.id), sku: sku, quantity: 1, limits: Self.limits, now: 1) }
        let start = try await store.stockEventHorizon().latest

        let payloads = Payloads()
        let location = opened.location
        let (ready, readySignal) = AsyncStream<Void>.makeStream()
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask {
                try await Backend.withAdminConnection(location) { connection in
                    try await connection.listen(on: "ishop_stock") { notifications in
                        readySignal.yield()
                        for try await notification in notifications {
                            // The checkout's, then the marker's: then stop.
                            if payloads.append(notification.payload) == 2 { return }
                        }
                    }
                }
            }
            for await _ in ready { break }
            _ = try await store.checkout(userID: user.id, idempotencyKey: "k", currency: "EUR", now: 2)
            _ = try await store.updateVariant(sku: "A", stock: 50, priceCents: nil, now: 3)
            try await group.next()
        }
        let events = try await store.stockEvents(after: start, limit: 10)
        #expect(events.count == 4)
        let got = payloads.all
        #expect(got == ["\(events[0].seq) \(events[2].seq)", "\(events[3].seq) \(events[3].seq)"],
                "one notification for the three lines of the checkout, one for the admin edit")
        try await store.close()
    }
}

/// Notification payloads collected by a listening task.
final class Payloads: Sendable {
    private let list = Mutex<[String]>([])

    /// Appends; returns how many there are now.
    func append(_ payload: String) -> Int { list.withLock { $0.append(payload); return $0.count } }

    var all: [String] { list.withLock { $0 } }
}
