import ShopCore

/// What a checkout takes from stock: the commerce rule, written once for every backend. A
/// backend locks the cart's variants (SQLite: its one writer; PostgreSQL: `FOR UPDATE` in SKU
/// order), hands their stock and inventory policy here, and writes what the plan says.
///
/// - A `deny` variant is never oversold: a line wanting more than its stock refuses the whole
///   checkout, and nothing is taken.
/// - A `continue` variant (Shopify's "continue selling when out of stock") is sold past its
///   stock: the stock it had is taken, down to 0, and the rest of the line is recorded as
///   backordered. Stock never goes below 0, so a restock counts from what is on the shelf and the
///   owed units stay on the orders that owe them.
struct CheckoutPlan: Sendable, Equatable {
    /// A variant as the checkout found it, locked.
    struct Shelf: Sendable, Equatable {
        var stock: Int
        var policy: InventoryPolicy
    }

    /// One line of the order: the shelf before and after, and how many units are owed.
    struct Take: Sendable, Equatable {
        var sku: String
        var stockBefore: Int
        var stockAfter: Int
        var backordered: Int
    }

    /// The takes, in SKU order (the order the backends lock and write in).
    let takes: [Take]
    /// The order's lines with their backordered units, in the cart's order.
    let lines: [OrderLine]

    enum Refusal: Error, Equatable {
        /// A `deny` variant (or one that left the catalog) has only `available` left.
        case insufficientStock(sku: String, available: Int)
    }

    /// The plan for `lines` against the shelves of their SKUs; a refusal names the first SKU (in
    /// SKU order) that cannot be had.
    static func make(lines: [CartLine], shelves: [String: Shelf]) throws(Refusal) -> CheckoutPlan {
        var takes: [Take] = []
        var backordered: [String: Int] = [:]
        for line in lines.sorted(by: { $0.sku < $1.sku }) {
            guard let shelf = shelves[line.sku] else { throw .insufficientStock(sku: line.sku, available: 0) }
            let onShelf = max(shelf.stock, 0)
            if onShelf >= line.quantity {
                takes.append(Take(sku: line.sku, stockBefore: onShelf, stockAfter: onShelf - line.quantity, backordered: 0))
            } else if shelf.policy == .continue {
                takes.append(Take(sku: line.sku, stockBefore: onShelf, stockAfter: 0, backordered: line.quantity - onShelf))
                backordered[line.sku] = line.quantity - onShelf
            } else {
                throw .insufficientStock(sku: line.sku, available: onShelf)
            }
        }
        return CheckoutPlan(
            takes: takes,
            lines: lines.map { OrderLine($0, backordered: backordered[$0.sku] ?? 0) })
    }

    /// The order this plan makes, with the prices of its lines.
    func order(userID: String, currency: String, now: Int64) -> StoredOrder {
        StoredOrder(id: CommerceNames.newID(), userID: userID, totalCents: lines.reduce(0) { $0 + $1.lineTotalCents },
                    currency: currency, lines: lines, createdAt: now)
    }

    /// The stock events to record: the SKUs whose stock moved (a backordered variant already at 0
    /// stays there, and announcing it again would tell no shopper anything).
    var stockEvents: [(sku: String, stock: Int)] {
        takes.filter { $0.stockAfter != $0.stockBefore }.map { ($0.sku, $0.stockAfter) }
    }

    /// The SKUs to lock, in the order every checkout locks them (no two checkouts deadlock).
    static func lockOrder(_ lines: [CartLine]) -> [String] { lines.map(\.sku).sorted() }
}
