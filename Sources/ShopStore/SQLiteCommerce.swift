import Foundation
import GRDB
import ShopCore

/// The runtime's tables on SQLite. Every write runs in GRDB's IMMEDIATE transaction, so writers
/// are serialised by SQLite itself; the conditional updates still never read-modify-write stock.
/// Statements are prepared once per connection (`cachedStatement`): all writes run one after
/// another on the one writer connection, and compiling each statement again (SQLite's parser plus
/// GRDB's authorizer) was most of that connection's time under a cart load.
extension SQLiteStore: CommerceStore {
    // MARK: Accounts

    public func createUser(email: String, passwordHash: String, role: Role) async throws -> UserAccount {
        let account = UserAccount(id: CommerceNames.newID(), email: email.lowercased(), passwordHash: passwordHash, role: role)
        do {
            try await pool.write { db in
                try db.cachedStatement(sql: "INSERT INTO users (id, email, password_hash, role, created_at) VALUES (?, ?, ?, ?, ?)")
                    .execute(arguments: [account.id, account.email, account.passwordHash, account.role.rawValue,
                                          Int64(Date().timeIntervalSince1970)])
            }
        } catch let error as DatabaseError where error.extendedResultCode == .SQLITE_CONSTRAINT_UNIQUE {
            throw CommerceError.emailTaken(account.email)
        }
        return account
    }

    public func user(email: String) async throws -> UserAccount? {
        try await pool.read { db in
            try Self.account(db, sql: "SELECT * FROM users WHERE email = ?", arguments: [email.lowercased()])
        }
    }

    public func user(id: String) async throws -> UserAccount? {
        try await pool.read { db in try Self.account(db, sql: "SELECT * FROM users WHERE id = ?", arguments: [id]) }
    }

    private static func account(_ db: Database, sql: String, arguments: StatementArguments) throws -> UserAccount? {
        guard let row = try Row.fetchOne(db.cachedStatement(sql: sql), arguments: arguments) else { return nil }
        let role: String = row["role"]
        return UserAccount(id: row["id"], email: row["email"], passwordHash: row["password_hash"], role: Role(rawValue: role) ?? .customer)
    }

    // MARK: Refresh tokens

    public func issueRefreshToken(_ token: NewRefreshToken) async throws {
        try await pool.write { db in try Self.insert(token, db) }
    }

    private static func insert(_ token: NewRefreshToken, _ db: Database) throws {
        try db.cachedStatement(sql: """
            INSERT INTO refresh_tokens (token_hash, family_id, user_id, issued_at, expires_at) VALUES (?, ?, ?, ?, ?)
            """).execute(arguments: [token.hash, token.familyID, token.userID, token.issuedAt, token.expiresAt])
    }

    public func rotateRefreshToken(presentedHash: String, successor: NewRefreshToken, now: Int64, graceSeconds: Int64) async throws
        -> RefreshRotation
    {
        try await pool.write { db in
            if let row = try Row.fetchOne(db.cachedStatement(sql: """
                UPDATE refresh_tokens SET spent_at = ?, successor_hash = ?
                WHERE token_hash = ? AND spent_at IS NULL AND revoked_at IS NULL AND expires_at > ?
                RETURNING user_id, family_id
                """), arguments: [now, successor.hash, presentedHash, now])
            {
                var next = successor
                next.userID = row["user_id"]
                next.familyID = row["family_id"]
                try Self.insert(next, db)
                return .rotated(userID: next.userID, familyID: next.familyID)
            }
            guard let row = try Row.fetchOne(db.cachedStatement(sql: "SELECT * FROM refresh_tokens WHERE token_hash = ?"), arguments: [presentedHash]) else {
                return .invalid
            }
            let family: String = row["family_id"]
            let spentAt: Int64? = row["spent_at"]
            let revokedAt: Int64? = row["revoked_at"]
            guard revokedAt == nil, let spentAt else { return .invalid }
            let successorHash: String? = row["successor_hash"]
            if now - spentAt <= graceSeconds, successorHash == successor.hash,
               try Int.fetchOne(db.cachedStatement(sql: "SELECT 1 FROM refresh_tokens WHERE token_hash = ? AND revoked_at IS NULL"),
                                arguments: [successor.hash]) != nil
            {
                return .replayed(userID: row["user_id"], familyID: family, rotatedAt: spentAt)
            }
            try db.cachedStatement(sql: "UPDATE refresh_tokens SET revoked_at = ? WHERE family_id = ? AND revoked_at IS NULL")
                .execute(arguments: [now, family])
            return .reused(familyID: family)
        }
    }

    public func revokeRefreshFamily(tokenHash: String, now: Int64) async throws -> Bool {
        try await pool.write { db in
            guard let family = try String.fetchOne(db.cachedStatement(sql: "SELECT family_id FROM refresh_tokens WHERE token_hash = ?"),
                                                   arguments: [tokenHash])
            else { return false }
            try db.cachedStatement(sql: "UPDATE refresh_tokens SET revoked_at = ? WHERE family_id = ? AND revoked_at IS NULL")
                .execute(arguments: [now, family])
            return true
        }
    }

    // MARK: Carts

    private static func cartID(_ db: Database, _ owner: CartOwner) throws -> String? {
        switch owner {
        case .guest(let hash): try String.fetchOne(db.cachedStatement(sql: "SELECT id FROM carts WHERE guest_token_hash = ?"), arguments: [hash])
        case .user(let id): try String.fetchOne(db.cachedStatement(sql: "SELECT id FROM carts WHERE user_id = ?"), arguments: [id])
        }
    }

    private static func createCart(_ db: Database, _ owner: CartOwner, now: Int64) throws -> String {
        let id = CommerceNames.newID()
        switch owner {
        case .guest(let hash):
            try db.cachedStatement(sql: "INSERT INTO carts (id, guest_token_hash, created_at, updated_at) VALUES (?, ?, ?, ?)")
                .execute(arguments: [id, hash, now, now])
        case .user(let user):
            try db.cachedStatement(sql: "INSERT INTO carts (id, user_id, created_at, updated_at) VALUES (?, ?, ?, ?)")
                .execute(arguments: [id, user, now, now])
        }
        return id
    }

    /// The cart's lines joined with the live catalog: prices and titles of this moment.
    private static func lines(_ db: Database, cartID: String) throws -> [CartLine] {
        let rows = try SQLiteRows(db.cachedStatement(sql: """
            SELECT ci.sku, ci.quantity, v.price_cents, v.option1, v.option2, v.option3, p.title
            FROM cart_items ci JOIN variants v ON v.sku = ci.sku JOIN products p ON p.id = v.product_id
            WHERE ci.cart_id = ? AND p.published = 1 ORDER BY ci.id
            """), arguments: [cartID], in: db)
        var lines: [CartLine] = []
        while try rows.next() {
            lines.append(CartLine(
                sku: rows.text(0),
                title: CommerceNames.lineTitle(product: rows.text(6), options: [rows.optionalText(3), rows.optionalText(4), rows.optionalText(5)]),
                quantity: rows.integer(1), unitPriceCents: rows.integer(2)))
        }
        return lines
    }

    public func cart(of owner: CartOwner) async throws -> StoredCart? {
        // On the calling thread, as the catalog reads (SQLiteStore.readOnCallingThread).
        try readOnCallingThread { db in try Self.storedCart(db, owner) }
    }

    private static func isSellable(_ db: Database, sku: String) throws -> Bool {
        try Int.fetchOne(db.cachedStatement(sql: """
            SELECT 1 FROM variants v JOIN products p ON p.id = v.product_id WHERE v.sku = ? AND p.published = 1
            """), arguments: [sku]) != nil
    }

    public func addToCart(_ owner: CartOwner, sku: String, quantity: Int, limits: CartLimits, now: Int64) async throws -> CartChange {
        try await pool.write { db in
            guard try Self.isSellable(db, sku: sku) else { return .unknownSKU }
            let id = try Self.cartID(db, owner) ?? Self.createCart(db, owner, now: now)
            return try Self.add(db, cartID: id, sku: sku, quantity: quantity, limits: limits, now: now, capped: false)
        }
    }

    public func addToCartReadingCart(_ owner: CartOwner, sku: String, quantity: Int, limits: CartLimits, now: Int64) async throws
        -> (change: CartChange, cart: StoredCart?)
    {
        try await pool.write { db in
            guard try Self.isSellable(db, sku: sku) else { return (.unknownSKU, nil) }
            let id = try Self.cartID(db, owner) ?? Self.createCart(db, owner, now: now)
            let change = try Self.add(db, cartID: id, sku: sku, quantity: quantity, limits: limits, now: now, capped: false)
            guard change == .updated else { return (change, nil) }
            return (change, StoredCart(id: id, lines: try Self.lines(db, cartID: id)))
        }
    }

    private static func storedCart(_ db: Database, _ owner: CartOwner) throws -> StoredCart? {
        guard let id = try cartID(db, owner) else { return nil }
        return StoredCart(id: id, lines: try lines(db, cartID: id))
    }

    /// Adds to a line. `capped`: quantities over the limit are cut to it (a merge) rather than refused.
    private static func add(_ db: Database, cartID: String, sku: String, quantity: Int, limits: CartLimits, now: Int64, capped: Bool)
        throws -> CartChange
    {
        let existing = try Int.fetchOne(db.cachedStatement(sql: "SELECT quantity FROM cart_items WHERE cart_id = ? AND sku = ?"), arguments: [cartID, sku])
        // The line count matters only for a new line.
        let lines = existing != nil ? 0
            : try Int.fetchOne(db.cachedStatement(sql: "SELECT COUNT(*) FROM cart_items WHERE cart_id = ?"), arguments: [cartID]) ?? 0
        let total: Int
        switch limits.lineAfterAdding(quantity, to: existing, linesInCart: lines, capped: capped) {
        case .quantity(let quantity): total = quantity
        case .refused(let change): return change
        }
        if existing == nil {
            try db.cachedStatement(sql: "INSERT INTO cart_items (cart_id, sku, quantity) VALUES (?, ?, ?)")
                .execute(arguments: [cartID, sku, total])
        } else {
            try db.cachedStatement(sql: "UPDATE cart_items SET quantity = ? WHERE cart_id = ? AND sku = ?")
                .execute(arguments: [total, cartID, sku])
        }
        try db.cachedStatement(sql: "UPDATE carts SET updated_at = ? WHERE id = ?").execute(arguments: [now, cartID])
        return .updated
    }

    public func setCartQuantity(_ owner: CartOwner, sku: String, quantity: Int, limits: CartLimits, now: Int64) async throws -> CartChange {
        guard quantity <= limits.maxQuantity else { return .quantityOutOfRange(max: limits.maxQuantity) }
        return try await pool.write { db in
            guard let id = try Self.cartID(db, owner) else { return .noCart }
            if quantity <= 0 {
                try db.cachedStatement(sql: "DELETE FROM cart_items WHERE cart_id = ? AND sku = ?").execute(arguments: [id, sku])
                return db.changesCount > 0 ? .updated : .notInCart
            }
            try db.cachedStatement(sql: "UPDATE cart_items SET quantity = ? WHERE cart_id = ? AND sku = ?")
                .execute(arguments: [quantity, id, sku])
            guard db.changesCount > 0 else { return .notInCart }
            try db.cachedStatement(sql: "UPDATE carts SET updated_at = ? WHERE id = ?").execute(arguments: [now, id])
            return .updated
        }
    }

    public func mergeGuestCart(tokenHash: String, intoUser userID: String, limits: CartLimits, now: Int64) async throws {
        try await pool.write { db in
            guard let guest = try Self.cartID(db, .guest(tokenHash: tokenHash)) else { return }
            guard let mine = try Self.cartID(db, .user(id: userID)) else {
                // No cart of the user's own: the guest cart simply becomes it.
                try db.cachedStatement(sql: "UPDATE carts SET guest_token_hash = NULL, user_id = ?, updated_at = ? WHERE id = ?")
                    .execute(arguments: [userID, now, guest])
                return
            }
            let rows = try Row.fetchAll(db.cachedStatement(sql: "SELECT sku, quantity FROM cart_items WHERE cart_id = ? ORDER BY id"), arguments: [guest])
            for row in rows {
                // A line that does not fit (the user's cart is full) stays out; nothing else is lost.
                _ = try Self.add(db, cartID: mine, sku: row["sku"], quantity: row["quantity"], limits: limits, now: now, capped: true)
            }
            try db.cachedStatement(sql: "DELETE FROM carts WHERE id = ?").execute(arguments: [guest])
        }
    }

    // MARK: Orders

    private static func order(_ db: Database, userID: String, key: String) throws -> StoredOrder? {
        guard let row = try Row.fetchOne(db.cachedStatement(sql: "SELECT * FROM orders WHERE user_id = ? AND idempotency_key = ?"), arguments: [userID, key])
        else { return nil }
        let id: String = row["id"]
        let lines = try Row.fetchAll(db.cachedStatement(sql: "SELECT * FROM order_items WHERE order_id = ? ORDER BY position"), arguments: [id]).map {
            OrderLine(sku: $0["sku"], title: $0["title"], quantity: $0["quantity"], unitPriceCents: $0["unit_price_cents"],
                      backordered: $0["backordered"])
        }
        return StoredOrder(id: id, userID: userID, totalCents: row["total_cents"], currency: row["currency"], lines: lines,
                           createdAt: row["created_at"])
    }

    /// The stock and policy of `skus`. The write transaction is SQLite's only writer: what it
    /// reads here cannot change before it writes.
    private static func shelves(_ db: Database, skus: [String]) throws -> [String: CheckoutPlan.Shelf] {
        var shelves: [String: CheckoutPlan.Shelf] = [:]
        let statement = try db.cachedStatement(sql: "SELECT stock, inventory_policy FROM variants WHERE sku = ?")
        for sku in skus {
            guard let row = try Row.fetchOne(statement, arguments: [sku]) else { continue }
            shelves[sku] = CheckoutPlan.Shelf(stock: row[0], policy: InventoryPolicy(rawValue: row[1]) ?? .deny)
        }
        return shelves
    }

    public func checkout(userID: String, idempotencyKey: String, currency: String, now: Int64) async throws -> CheckoutOutcome {
        let variantTime = ISO8601DateFormatter().string(from: Date(timeIntervalSince1970: TimeInterval(now)))
        do {
            return try await pool.write { db in
                if let placed = try Self.order(db, userID: userID, key: idempotencyKey) { return .replayed(placed) }
                guard let cartID = try Self.cartID(db, .user(id: userID)) else { return .emptyCart }
                let cart = try Self.lines(db, cartID: cartID)
                guard !cart.isEmpty else { return .emptyCart }
                let plan = try CheckoutPlan.make(lines: cart, shelves: Self.shelves(db, skus: CheckoutPlan.lockOrder(cart)))
                let update = try db.cachedStatement(sql: "UPDATE variants SET stock = ?, updated_at = ? WHERE sku = ?")
                for take in plan.takes {
                    try update.execute(arguments: [take.stockAfter, variantTime, take.sku])
                }
                let order = plan.order(userID: userID, currency: currency, now: now)
                try db.cachedStatement(sql: """
                    INSERT INTO orders (id, user_id, idempotency_key, total_cents, currency, created_at) VALUES (?, ?, ?, ?, ?, ?)
                    """).execute(arguments: [order.id, userID, idempotencyKey, order.totalCents, currency, now])
                let insertLine = try db.cachedStatement(sql: """
                    INSERT INTO order_items (order_id, position, sku, title, quantity, unit_price_cents, backordered) VALUES (?, ?, ?, ?, ?, ?, ?)
                    """)
                for (position, line) in order.lines.enumerated() {
                    try insertLine.execute(arguments: [order.id, position, line.sku, line.title, line.quantity, line.unitPriceCents,
                                                       line.backordered])
                }
                try db.cachedStatement(sql: "DELETE FROM cart_items WHERE cart_id = ?").execute(arguments: [cartID])
                try Self.recordStockEvents(plan.stockEvents, db: db)
                return .placed(order)
            }
        } catch let CheckoutPlan.Refusal.insufficientStock(sku, available) {
            return .insufficientStock(sku: sku, available: available)
        }
    }

    // MARK: Admin

    public func updateVariant(sku: String, stock: Int?, priceCents: Int?, now: Int64) async throws -> VariantSummary? {
        let variantTime = ISO8601DateFormatter().string(from: Date(timeIntervalSince1970: TimeInterval(now)))
        return try await pool.write { db in
            guard let row = try Row.fetchOne(db.cachedStatement(sql: """
                UPDATE variants SET stock = COALESCE(?, stock), price_cents = COALESCE(?, price_cents), updated_at = ?
                WHERE sku = ? RETURNING sku, stock, price_cents, option1, option2, option3
                """), arguments: [stock, priceCents, variantTime, sku])
            else { return nil }
            let variant = VariantSummary(sku: row["sku"], title: CommerceNames.variantTitle(options: [row["option1"], row["option2"], row["option3"]]),
                                         priceCents: row["price_cents"], stock: row["stock"])
            if stock != nil { try Self.recordStockEvents([(variant.sku, variant.stock)], db: db) }
            return variant
        }
    }
}
