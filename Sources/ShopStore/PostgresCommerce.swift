import Foundation
import Logging
import PostgresNIO
import ShopCore

/// The runtime's tables on PostgreSQL. Writers that touch a cart lock its row first (FOR UPDATE),
/// so a checkout and a cart edit of the same user never interleave; a checkout locks its
/// variants' rows (FOR UPDATE, in SKU order) before it reads their stock, so what it writes
/// cannot have changed since it looked.
extension PostgresStore: CommerceStore {
    /// A transaction whose thrown errors come out as themselves (not wrapped by PostgresNIO).
    private func transaction<T: Sendable>(_ body: (PostgresConnection, Logger) async throws -> T) async throws -> T {
        let logger = self.logger
        return try await Self.unwrappingTransactionErrors {
            try await client.withTransaction(logger: logger) { connection in try await body(connection, logger) }
        }
    }

    // MARK: Accounts

    public func createUser(email: String, passwordHash: String, role: Role) async throws -> UserAccount {
        let account = UserAccount(id: CommerceNames.newID(), email: email.lowercased(), passwordHash: passwordHash, role: role)
        let now = Int64(Date().timeIntervalSince1970)
        let rows = try await client.query("""
            INSERT INTO users (id, email, password_hash, role, created_at)
            VALUES (\(account.id), \(account.email), \(account.passwordHash), \(account.role.rawValue), \(now))
            ON CONFLICT (email) DO NOTHING RETURNING id
            """, logger: logger)
        for try await _ in rows.decode(String.self) { return account }
        throw CommerceError.emailTaken(account.email)
    }

    public func user(email: String) async throws -> UserAccount? {
        try await account(client.query("SELECT id, email, password_hash, role FROM users WHERE email = \(email.lowercased())", logger: logger))
    }

    public func user(id: String) async throws -> UserAccount? {
        try await account(client.query("SELECT id, email, password_hash, role FROM users WHERE id = \(id)", logger: logger))
    }

    private func account(_ rows: PostgresRowSequence) async throws -> UserAccount? {
        for try await (id, email, hash, role) in rows.decode((String, String, String, String).self) {
            return UserAccount(id: id, email: email, passwordHash: hash, role: Role(rawValue: role) ?? .customer)
        }
        return nil
    }

    // MARK: Refresh tokens

    public func issueRefreshToken(_ token: NewRefreshToken) async throws {
        try await Self.insert(token, client: client, logger: logger)
    }

    private static func insert(_ token: NewRefreshToken, client: PostgresClient, logger: Logger) async throws {
        try await client.query("""
            INSERT INTO refresh_tokens (token_hash, family_id, user_id, issued_at, expires_at)
            VALUES (\(token.hash), \(token.familyID), \(token.userID), \(token.issuedAt), \(token.expiresAt))
            """, logger: logger)
    }

    private static func insert(_ token: NewRefreshToken, connection: PostgresConnection, logger: Logger) async throws {
        try await connection.query("""
            INSERT INTO refresh_tokens (token_hash, family_id, user_id, issued_at, expires_at)
            VALUES (\(token.hash), \(token.familyID), \(token.userID), \(token.issuedAt), \(token.expiresAt))
            """, logger: logger)
    }

    public func rotateRefreshToken(presentedHash: String, successor: NewRefreshToken, now: Int64, graceSeconds: Int64) async throws
        -> RefreshRotation
    {
        try await transaction { connection, logger in
            // Of two concurrent rotations of one token, the second waits for the first's row lock,
            // re-checks `spent_at IS NULL`, finds it false, and falls through to the replay below.
            let rotated = try await connection.query("""
                UPDATE refresh_tokens SET spent_at = \(now), successor_hash = \(successor.hash)
                WHERE token_hash = \(presentedHash) AND spent_at IS NULL AND revoked_at IS NULL AND expires_at > \(now)
                RETURNING user_id, family_id
                """, logger: logger)
            for try await (userID, familyID) in rotated.decode((String, String).self) {
                var next = successor
                next.userID = userID
                next.familyID = familyID
                try await Self.insert(next, connection: connection, logger: logger)
                return .rotated(userID: userID, familyID: familyID)
            }
            let rows = try await connection.query("""
                SELECT t.user_id, t.family_id, t.spent_at, t.successor_hash, t.revoked_at,
                       (SELECT s.revoked_at IS NULL FROM refresh_tokens s WHERE s.token_hash = t.successor_hash)
                FROM refresh_tokens t WHERE t.token_hash = \(presentedHash)
                """, logger: logger)
            var found: (String, String, Int64?, String?, Int64?, Bool?)?
            for try await row in rows.decode((String, String, Int64?, String?, Int64?, Bool?).self) { found = row }
            guard let (userID, familyID, spentAt, successorHash, revokedAt, successorLive) = found, revokedAt == nil, let spentAt else {
                return .invalid
            }
            if now - spentAt <= graceSeconds, successorHash == successor.hash, successorLive == true {
                return .replayed(userID: userID, familyID: familyID, rotatedAt: spentAt)
            }
            try await connection.query("""
                UPDATE refresh_tokens SET revoked_at = \(now) WHERE family_id = \(familyID) AND revoked_at IS NULL
                """, logger: logger)
            return .reused(familyID: familyID)
        }
    }

    public func revokeRefreshFamily(tokenHash: String, now: Int64) async throws -> Bool {
        let rows = try await client.query("""
            UPDATE refresh_tokens SET revoked_at = \(now)
            WHERE family_id = (SELECT family_id FROM refresh_tokens WHERE token_hash = \(tokenHash)) AND revoked_at IS NULL
            RETURNING 1
            """, logger: logger)
        var any = false
        for try await _ in rows { any = true }
        if any { return true }
        // Already revoked is still a known token.
        let known = try await client.query("SELECT 1 FROM refresh_tokens WHERE token_hash = \(tokenHash)", logger: logger)
        for try await _ in known { return true }
        return false
    }

    // MARK: Carts

    /// The owner's cart id, its row locked for this transaction.
    private static func lockedCartID(_ connection: PostgresConnection, _ owner: CartOwner, logger: Logger) async throws -> String? {
        let query: PostgresQuery = switch owner {
        case .guest(let hash): "SELECT id FROM carts WHERE guest_token_hash = \(hash) FOR UPDATE"
        case .user(let id): "SELECT id FROM carts WHERE user_id = \(id) FOR UPDATE"
        }
        for try await id in try await connection.query(query, logger: logger).decode(String.self) { return id }
        return nil
    }

    private static func createCart(_ connection: PostgresConnection, _ owner: CartOwner, now: Int64, logger: Logger) async throws -> String {
        let id = CommerceNames.newID()
        switch owner {
        case .guest(let hash):
            try await connection.query("""
                INSERT INTO carts (id, guest_token_hash, created_at, updated_at) VALUES (\(id), \(hash), \(now), \(now))
                """, logger: logger)
        case .user(let user):
            // Two first adds of one user at once: the second finds the first's cart.
            try await connection.query("""
                INSERT INTO carts (id, user_id, created_at, updated_at) VALUES (\(id), \(user), \(now), \(now))
                ON CONFLICT (user_id) DO NOTHING
                """, logger: logger)
            if let existing = try await lockedCartID(connection, owner, logger: logger) { return existing }
        }
        return id
    }

    private static func lines(_ connection: PostgresConnection, cartID: String, logger: Logger) async throws -> [CartLine] {
        let rows = try await connection.query("""
            SELECT ci.sku, ci.quantity, v.price_cents, v.option1, v.option2, v.option3, p.title
            FROM cart_items ci JOIN variants v ON v.sku = ci.sku JOIN products p ON p.id = v.product_id
            WHERE ci.cart_id = \(cartID) AND p.published ORDER BY ci.id
            """, logger: logger)
        var lines: [CartLine] = []
        for try await (sku, quantity, price, o1, o2, o3, title) in rows.decode((String, Int, Int, String?, String?, String?, String).self) {
            lines.append(CartLine(sku: sku, title: CommerceNames.lineTitle(product: title, options: [o1, o2, o3]), quantity: quantity,
                                  unitPriceCents: price))
        }
        return lines
    }

    public func cart(of owner: CartOwner) async throws -> StoredCart? {
        try await readSnapshot { connection, logger in
            let query: PostgresQuery = switch owner {
            case .guest(let hash): "SELECT id FROM carts WHERE guest_token_hash = \(hash)"
            case .user(let id): "SELECT id FROM carts WHERE user_id = \(id)"
            }
            var found: String?
            for try await id in try await connection.query(query, logger: logger).decode(String.self) { found = id }
            guard let found else { return nil }
            return StoredCart(id: found, lines: try await Self.lines(connection, cartID: found, logger: logger))
        }
    }

    private static func isSellable(_ connection: PostgresConnection, sku: String, logger: Logger) async throws -> Bool {
        let rows = try await connection.query("""
            SELECT 1 FROM variants v JOIN products p ON p.id = v.product_id WHERE v.sku = \(sku) AND p.published
            """, logger: logger)
        for try await _ in rows { return true }
        return false
    }

    public func addToCart(_ owner: CartOwner, sku: String, quantity: Int, limits: CartLimits, now: Int64) async throws -> CartChange {
        try await transaction { connection, logger in
            guard try await Self.isSellable(connection, sku: sku, logger: logger) else { return .unknownSKU }
            var id = try await Self.lockedCartID(connection, owner, logger: logger)
            if id == nil { id = try await Self.createCart(connection, owner, now: now, logger: logger) }
            return try await Self.add(connection, cartID: id!, sku: sku, quantity: quantity, limits: limits, now: now, capped: false,
                                      logger: logger)
        }
    }

    /// Adds to a line of a cart whose row this transaction holds locked.
    private static func add(_ connection: PostgresConnection, cartID: String, sku: String, quantity: Int, limits: CartLimits,
                            now: Int64, capped: Bool, logger: Logger) async throws -> CartChange
    {
        var existing: Int?
        for try await value in try await connection.query("""
            SELECT quantity FROM cart_items WHERE cart_id = \(cartID) AND sku = \(sku)
            """, logger: logger).decode(Int.self) { existing = value }
        // The line count matters only for a new line.
        var lines = 0
        if existing == nil {
            for try await count in try await connection.query("SELECT COUNT(*) FROM cart_items WHERE cart_id = \(cartID)", logger: logger)
                .decode(Int.self) { lines = count }
        }
        let total: Int
        switch limits.lineAfterAdding(quantity, to: existing, linesInCart: lines, capped: capped) {
        case .quantity(let quantity): total = quantity
        case .refused(let change): return change
        }
        if existing == nil {
            try await connection.query("INSERT INTO cart_items (cart_id, sku, quantity) VALUES (\(cartID), \(sku), \(total))", logger: logger)
        } else {
            try await connection.query("UPDATE cart_items SET quantity = \(total) WHERE cart_id = \(cartID) AND sku = \(sku)", logger: logger)
        }
        try await connection.query("UPDATE carts SET updated_at = \(now) WHERE id = \(cartID)", logger: logger)
        return .updated
    }

    public func setCartQuantity(_ owner: CartOwner, sku: String, quantity: Int, limits: CartLimits, now: Int64) async throws -> CartChange {
        guard quantity <= limits.maxQuantity else { return .quantityOutOfRange(max: limits.maxQuantity) }
        return try await transaction { connection, logger in
            guard let id = try await Self.lockedCartID(connection, owner, logger: logger) else { return .noCart }
            let query: PostgresQuery = quantity <= 0
                ? "DELETE FROM cart_items WHERE cart_id = \(id) AND sku = \(sku) RETURNING 1"
                : "UPDATE cart_items SET quantity = \(quantity) WHERE cart_id = \(id) AND sku = \(sku) RETURNING 1"
            var changed = false
            for try await _ in try await connection.query(query, logger: logger) { changed = true }
            guard changed else { return .notInCart }
            try await connection.query("UPDATE carts SET updated_at = \(now) WHERE id = \(id)", logger: logger)
            return .updated
        }
    }

    public func mergeGuestCart(tokenHash: String, intoUser userID: String, limits: CartLimits, now: Int64) async throws {
        try await transaction { connection, logger in
            // Locks in one order (user's cart, then the guest's) so two merges cannot deadlock.
            let mine = try await Self.lockedCartID(connection, .user(id: userID), logger: logger)
            guard let guest = try await Self.lockedCartID(connection, .guest(tokenHash: tokenHash), logger: logger) else { return }
            guard let mine else {
                try await connection.query("""
                    UPDATE carts SET guest_token_hash = NULL, user_id = \(userID), updated_at = \(now) WHERE id = \(guest)
                    """, logger: logger)
                return
            }
            var rows: [(String, Int)] = []
            for try await row in try await connection.query("""
                SELECT sku, quantity FROM cart_items WHERE cart_id = \(guest) ORDER BY id
                """, logger: logger).decode((String, Int).self) { rows.append(row) }
            for (sku, quantity) in rows {
                _ = try await Self.add(connection, cartID: mine, sku: sku, quantity: quantity, limits: limits, now: now, capped: true,
                                       logger: logger)
            }
            try await connection.query("DELETE FROM carts WHERE id = \(guest)", logger: logger)
        }
    }

    // MARK: Orders

    private static func order(_ connection: PostgresConnection, userID: String, key: String, logger: Logger) async throws -> StoredOrder? {
        var header: (String, Int, String, Int64)?
        for try await row in try await connection.query("""
            SELECT id, total_cents, currency, created_at FROM orders WHERE user_id = \(userID) AND idempotency_key = \(key)
            """, logger: logger).decode((String, Int, String, Int64).self) { header = row }
        guard let (id, total, currency, createdAt) = header else { return nil }
        var lines: [OrderLine] = []
        for try await (sku, title, quantity, price, backordered) in try await connection.query("""
            SELECT sku, title, quantity, unit_price_cents, backordered FROM order_items WHERE order_id = \(id) ORDER BY position
            """, logger: logger).decode((String, String, Int, Int, Int).self) {
            lines.append(OrderLine(sku: sku, title: title, quantity: quantity, unitPriceCents: price, backordered: backordered))
        }
        return StoredOrder(id: id, userID: userID, totalCents: total, currency: currency, lines: lines, createdAt: createdAt)
    }

    /// The stock and policy of `skus`, their rows locked until the transaction ends. In SKU order:
    /// every checkout locks in the same order, so none deadlock.
    private static func lockedShelves(_ connection: PostgresConnection, skus: [String], logger: Logger) async throws
        -> [String: CheckoutPlan.Shelf]
    {
        var shelves: [String: CheckoutPlan.Shelf] = [:]
        for try await (sku, stock, policy) in try await connection.query("""
            SELECT sku, stock, inventory_policy FROM variants WHERE sku = ANY(\(skus)::text[]) ORDER BY sku FOR UPDATE
            """, logger: logger).decode((String, Int, String).self) {
            shelves[sku] = CheckoutPlan.Shelf(stock: stock, policy: InventoryPolicy(rawValue: policy) ?? .deny)
        }
        return shelves
    }

    public func checkout(userID: String, idempotencyKey: String, currency: String, now: Int64) async throws -> CheckoutOutcome {
        let variantTime = ISO8601DateFormatter().string(from: Date(timeIntervalSince1970: TimeInterval(now)))
        do {
            return try await transaction { connection, logger in
                // Requests with the same key wait for each other here, so the second finds the
                // first's order instead of racing it (the UNIQUE constraint is the backstop).
                try await connection.query("SELECT pg_advisory_xact_lock(hashtext(\(userID)), hashtext(\(idempotencyKey)))", logger: logger)
                if let placed = try await Self.order(connection, userID: userID, key: idempotencyKey, logger: logger) {
                    return .replayed(placed)
                }
                guard let cartID = try await Self.lockedCartID(connection, .user(id: userID), logger: logger) else { return .emptyCart }
                let cart = try await Self.lines(connection, cartID: cartID, logger: logger)
                guard !cart.isEmpty else { return .emptyCart }
                let shelves = try await Self.lockedShelves(connection, skus: CheckoutPlan.lockOrder(cart), logger: logger)
                let plan = try CheckoutPlan.make(lines: cart, shelves: shelves)
                let takenSKUs = plan.takes.map(\.sku), stockAfter = plan.takes.map(\.stockAfter)
                try await connection.query("""
                    UPDATE variants v SET stock = u.stock, updated_at = \(variantTime)
                    FROM UNNEST(\(takenSKUs)::text[], \(stockAfter)::int8[]) AS u(sku, stock) WHERE v.sku = u.sku
                    """, logger: logger)
                let order = plan.order(userID: userID, currency: currency, now: now)
                try await connection.query("""
                    INSERT INTO orders (id, user_id, idempotency_key, total_cents, currency, created_at)
                    VALUES (\(order.id), \(userID), \(idempotencyKey), \(order.totalCents), \(currency), \(now))
                    """, logger: logger)
                let lines = order.lines
                let positions = Array(0..<lines.count), skus = lines.map(\.sku), titles = lines.map(\.title)
                let quantities = lines.map(\.quantity), prices = lines.map(\.unitPriceCents), backordered = lines.map(\.backordered)
                try await connection.query("""
                    INSERT INTO order_items (order_id, position, sku, title, quantity, unit_price_cents, backordered)
                    SELECT \(order.id), u.position, u.sku, u.title, u.quantity, u.price, u.backordered
                    FROM UNNEST(\(positions)::int4[], \(skus)::text[], \(titles)::text[], \(quantities)::int8[], \(prices)::int8[],
                                \(backordered)::int8[])
                    AS u(position, sku, title, quantity, price, backordered)
                    """, logger: logger)
                try await connection.query("DELETE FROM cart_items WHERE cart_id = \(cartID)", logger: logger)
                // Last: the events lock it takes is held until the commit right after.
                try await Self.recordStockEvents(plan.stockEvents, connection: connection, logger: logger)
                return .placed(order)
            }
        } catch let CheckoutPlan.Refusal.insufficientStock(sku, available) {
            return .insufficientStock(sku: sku, available: available)
        }
    }

    // MARK: Admin

    public func updateVariant(sku: String, stock: Int?, priceCents: Int?, now: Int64) async throws -> VariantSummary? {
        let variantTime = ISO8601DateFormatter().string(from: Date(timeIntervalSince1970: TimeInterval(now)))
        return try await transaction { connection, logger in
            let rows = try await connection.query("""
                UPDATE variants SET stock = COALESCE(\(stock)::int8, stock), price_cents = COALESCE(\(priceCents)::int8, price_cents),
                updated_at = \(variantTime)
                WHERE sku = \(sku) RETURNING sku, stock, price_cents, option1, option2, option3
                """, logger: logger)
            var variant: VariantSummary?
            for try await (sku, stock, price, o1, o2, o3) in rows.decode((String, Int, Int, String?, String?, String?).self) {
                variant = VariantSummary(sku: sku, title: CommerceNames.variantTitle(options: [o1, o2, o3]), priceCents: price, stock: stock)
            }
            if let variant, stock != nil {
                try await Self.recordStockEvents([(variant.sku, variant.stock)], connection: connection, logger: logger)
            }
            return variant
        }
    }
}
