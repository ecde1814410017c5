import Foundation
import ShopCore
import ShopStore
import ShopTestSupport
import Testing

/// Accounts, refresh tokens, carts and orders: one contract, run on every backend.
@Suite("Store contract: commerce")
struct CommerceContractTests {
    static let limits = CartLimits(maxQuantity: 99, maxLines: 3)

    /// Every user checks out at once (Medusa's way: fire them all, then judge the end state).
    static func checkOutAtOnce(_ users: [String], in store: any CommerceStore) async throws -> [CheckoutOutcome] {
        try await withThrowingTaskGroup(of: CheckoutOutcome.self) { group in
            for user in users {
                group.addTask { try await store.checkout(userID: user, idempotencyKey: "key-\(user)", currency: "EUR", now: 2) }
            }
            var all: [CheckoutOutcome] = []
            for try await outcome in group { all.append(outcome) }
            return all
        }
    }

    func token(_ hash: String, user: String, family: String, at time: Int64 = 1000) -> NewRefreshToken {
        NewRefreshToken(hash: hash, userID: user, familyID: family, issuedAt: time, expiresAt: time + 86_400)
    }

    @Test("Accounts: emails are unique whatever their case", arguments: Backend.available)
    func accounts(backend: Backend) async throws {
        let opened = try await backend.open()
        defer { opened.remove() }
        let store = opened.commerce
        let made = try await store.createUser(email: "Ada@Example.com", passwordHash: "$2b$hash", role: .admin)
        #expect(made.email == "ada@example.com")
        await #expect(throws: CommerceError.emailTaken("ada@example.com")) {
            try await store.createUser(email: "ADA@example.com", passwordHash: "x", role: .customer)
        }
        let found = try await store.user(email: "ada@EXAMPLE.com")
        #expect(found == made)
        let byID = try await store.user(id: made.id)
        #expect(byID == made)
        let nobody = try await store.user(email: "nobody@example.com")
        #expect(nobody == nil)
        try await store.close()
    }

    @Test("Refresh tokens rotate once, replay within the grace window, and revoke the family after it", arguments: Backend.available)
    func refreshRotation(backend: Backend) async throws {
        let opened = try await backend.open()
        defer { opened.remove() }
        let store = opened.commerce
        let user = try await store.createUser(email: "a@example.com", passwordHash: "h", role: .customer)
        try await store.issueRefreshToken(token("t1", user: user.id, family: "f1"))

        let first = try await store.rotateRefreshToken(presentedHash: "t1", successor: token("t2", user: "", family: "", at: 1010),
                                                       now: 1010, graceSeconds: 20)
        #expect(first == .rotated(userID: user.id, familyID: "f1"))
        // A second tab with the same token, 5 s later: the same successor, no fork.
        let replay = try await store.rotateRefreshToken(presentedHash: "t1", successor: token("t2", user: "", family: "", at: 1015),
                                                        now: 1015, graceSeconds: 20)
        #expect(replay == .replayed(userID: user.id, familyID: "f1", rotatedAt: 1010))
        // The successor works.
        let second = try await store.rotateRefreshToken(presentedHash: "t2", successor: token("t3", user: "", family: "", at: 1020),
                                                        now: 1020, graceSeconds: 20)
        #expect(second == .rotated(userID: user.id, familyID: "f1"))
        // t1 again long after: theft. The whole family goes, including the live t3.
        let reuse = try await store.rotateRefreshToken(presentedHash: "t1", successor: token("t2", user: "", family: "", at: 2000),
                                                       now: 2000, graceSeconds: 20)
        #expect(reuse == .reused(familyID: "f1"))
        let afterRevoke = try await store.rotateRefreshToken(presentedHash: "t3", successor: token("t4", user: "", family: "", at: 2001),
                                                             now: 2001, graceSeconds: 20)
        #expect(afterRevoke == .invalid)
        // Unknown and expired tokens are simply invalid.
        let unknown = try await store.rotateRefreshToken(presentedHash: "nope", successor: token("x", user: "", family: ""),
                                                         now: 2001, graceSeconds: 20)
        #expect(unknown == .invalid)
        try await store.issueRefreshToken(token("old", user: user.id, family: "f2", at: 0))
        let expired = try await store.rotateRefreshToken(presentedHash: "old", successor: token("y", user: "", family: ""),
                                                         now: 100_000, graceSeconds: 20)
        #expect(expired == .invalid)
        // Sign-out revokes a family.
        try await store.issueRefreshToken(token("s1", user: user.id, family: "f3", at: 3000))
        #expect(try await store.revokeRefreshFamily(tokenHash: "s1", now: 3001))
        let revoked = try await store.rotateRefreshToken(presentedHash: "s1", successor: token("s2", user: "", family: ""),
                                                         now: 3002, graceSeconds: 20)
        #expect(revoked == .invalid)
        #expect(try await store.revokeRefreshFamily(tokenHash: "unknown", now: 3003) == false)
        try await store.close()
    }

    @Test("Concurrent refreshes of one token never fork its family", arguments: Backend.available)
    func concurrentRotation(backend: Backend) async throws {
        let opened = try await backend.open()
        defer { opened.remove() }
        let store = opened.commerce
        let user = try await store.createUser(email: "a@example.com", passwordHash: "h", role: .customer)
        try await store.issueRefreshToken(token("t1", user: user.id, family: "f1"))
        let outcomes = try await withThrowingTaskGroup(of: RefreshRotation.self) { group in
            for _ in 0..<10 {
                group.addTask {
                    try await store.rotateRefreshToken(presentedHash: "t1", successor: self.token("t2", user: "", family: "", at: 1010),
                                                       now: 1010, graceSeconds: 20)
                }
            }
            var all: [RefreshRotation] = []
            for try await outcome in group { all.append(outcome) }
            return all
        }
        let rotated = outcomes.filter { $0 == .rotated(userID: user.id, familyID: "f1") }.count
        let replayed = outcomes.filter { $0 == .replayed(userID: user.id, familyID: "f1", rotatedAt: 1010) }.count
        #expect(rotated == 1)
        #expect(replayed == 9)
        try await store.close()
    }

    @Test("Housekeeping removes untouched guest carts and wholly expired refresh families, nothing else", arguments: Backend.available)
    func housekeeping(backend: Backend) async throws {
        let opened = try await backend.open()
        defer { opened.remove() }
        let store = opened.commerce
        _ = try await store.upsert([Sample.simple(handle: "a", sku: "A", stock: 9)])
        let user = try await store.createUser(email: "h@example.com", passwordHash: "h", role: .customer)
        let stale = CartOwner.guest(tokenHash: "stale"), fresh = CartOwner.guest(tokenHash: "fresh"), signedIn = CartOwner.user(id: user.id)
        #expect(try await store.addToCart(stale, sku: "A", quantity: 1, limits: Self.limits, now: 100) == .updated)
        #expect(try await store.addToCart(fresh, sku: "A", quantity: 1, limits: Self.limits, now: 100) == .updated)
        #expect(try await store.addToCart(fresh, sku: "A", quantity: 1, limits: Self.limits, now: 5000) == .updated)
        #expect(try await store.addToCart(signedIn, sku: "A", quantity: 1, limits: Self.limits, now: 100) == .updated)
        // Family "gone": both tokens expired (at 1100 and 1200). Family "alive": one spent token
        // expired, its successor not yet, so the spent one stays to catch a replay.
        try await store.issueRefreshToken(NewRefreshToken(hash: "g1", userID: user.id, familyID: "gone", issuedAt: 100, expiresAt: 1100))
        try await store.issueRefreshToken(NewRefreshToken(hash: "g2", userID: user.id, familyID: "gone", issuedAt: 200, expiresAt: 1200))
        try await store.issueRefreshToken(NewRefreshToken(hash: "a1", userID: user.id, familyID: "alive", issuedAt: 100, expiresAt: 1100))
        try await store.issueRefreshToken(NewRefreshToken(hash: "a2", userID: user.id, familyID: "alive", issuedAt: 900, expiresAt: 9000))

        let removed = try await store.removeExpired(guestCartsUntouchedSince: 1000, now: 2000)
        #expect(removed == HousekeepingResult(guestCarts: 1, refreshTokens: 2))
        #expect(try await store.cart(of: stale) == nil)
        #expect(try await store.cart(of: fresh)?.lines.first?.quantity == 2)
        #expect(try await store.cart(of: signedIn)?.lines.count == 1)
        // The live family keeps working.
        let rotated = try await store.rotateRefreshToken(
            presentedHash: "a2", successor: NewRefreshToken(hash: "a3", userID: "", familyID: "", issuedAt: 2000, expiresAt: 9999),
            now: 2000, graceSeconds: 20)
        #expect(rotated == .rotated(userID: user.id, familyID: "alive"))
        // A second pass finds nothing more; a stale guest token just starts a new cart.
        #expect(try await store.removeExpired(guestCartsUntouchedSince: 1000, now: 2000) == HousekeepingResult())
        #expect(try await store.addToCart(stale, sku: "A", quantity: 1, limits: Self.limits, now: 2001) == .updated)
        #expect(try await store.cart(of: stale)?.lines.first?.quantity == 1)
        try await store.close()
    }

    @Test("Carts: quantities add up within bounds, lines are capped, prices come from the catalog", arguments: Backend.available)
    func carts(backend: Backend) async throws {
        let opened = try await backend.open()
        defer { opened.remove() }
        let store = opened.commerce
        _ = try await store.upsert([Sample.simple(handle: "a", sku: "A", priceCents: 500, stock: 9),
                                    Sample.simple(handle: "b", sku: "B", priceCents: 700, stock: 9),
                                    Sample.simple(handle: "c", sku: "C", stock: 9), Sample.simple(handle: "d", sku: "D", stock: 9),
                                    Sample.simple(handle: "hidden", sku: "H", stock: 9, published: false)])
        let guest = CartOwner.guest(tokenHash: "g1")
        #expect(try await store.cart(of: guest) == nil)
        #expect(try await store.addToCart(guest, sku: "A", quantity: 2, limits: Self.limits, now: 1) == .updated)
        #expect(try await store.addToCart(guest, sku: "A", quantity: 3, limits: Self.limits, now: 2) == .updated)
        #expect(try await store.addToCart(guest, sku: "A", quantity: 95, limits: Self.limits, now: 2) == .quantityOutOfRange(max: 99))
        #expect(try await store.addToCart(guest, sku: "NOPE", quantity: 1, limits: Self.limits, now: 2) == .unknownSKU)
        #expect(try await store.addToCart(guest, sku: "H", quantity: 1, limits: Self.limits, now: 2) == .unknownSKU)
        #expect(try await store.addToCart(guest, sku: "B", quantity: 1, limits: Self.limits, now: 3) == .updated)
        #expect(try await store.addToCart(guest, sku: "C", quantity: 1, limits: Self.limits, now: 3) == .updated)
        #expect(try await store.addToCart(guest, sku: "D", quantity: 1, limits: Self.limits, now: 3) == .tooManyLines(max: 3))
        var cart = try #require(try await store.cart(of: guest))
        #expect(cart.lines.map(\.sku) == ["A", "B", "C"])
        #expect(cart.lines[0].quantity == 5)
        #expect(cart.lines[0].unitPriceCents == 500)
        #expect(cart.lines[0].title == "Product a")

        // A price change shows at once: carts never keep prices.
        _ = try await store.updateVariant(sku: "A", stock: nil, priceCents: 450, now: 4)
        cart = try #require(try await store.cart(of: guest))
        #expect(cart.lines[0].unitPriceCents == 450)

        #expect(try await store.setCartQuantity(guest, sku: "B", quantity: 0, limits: Self.limits, now: 5) == .updated)
        #expect(try await store.setCartQuantity(guest, sku: "B", quantity: 2, limits: Self.limits, now: 5) == .notInCart)
        #expect(try await store.setCartQuantity(guest, sku: "C", quantity: 7, limits: Self.limits, now: 5) == .updated)
        #expect(try await store.setCartQuantity(.guest(tokenHash: "nobody"), sku: "C", quantity: 1, limits: Self.limits, now: 5) == .noCart)
        cart = try #require(try await store.cart(of: guest))
        #expect(cart.lines.map(\.sku) == ["A", "C"])
        #expect(cart.lines.map(\.quantity) == [5, 7])

        // Signing in merges: the user's own lines stay, the guest's are added, the guest cart goes.
        let user = try await store.createUser(email: "m@example.com", passwordHash: "h", role: .customer)
        #expect(try await store.addToCart(.user(id: user.id), sku: "A", quantity: 96, limits: Self.limits, now: 6) == .updated)
        try await store.mergeGuestCart(tokenHash: "g1", intoUser: user.id, limits: Self.limits, now: 7)
        #expect(try await store.cart(of: guest) == nil)
        let merged = try #require(try await store.cart(of: .user(id: user.id)))
        #expect(merged.lines.map(\.sku) == ["A", "C"])
        #expect(merged.lines.map(\.quantity) == [99, 7], "capped at the line limit")

        // A user without a cart simply takes the guest's over.
        _ = try await store.addToCart(.guest(tokenHash: "g2"), sku: "D", quantity: 2, limits: Self.limits, now: 8)
        let other = try await store.createUser(email: "n@example.com", passwordHash: "h", role: .customer)
        try await store.mergeGuestCart(tokenHash: "g2", intoUser: other.id, limits: Self.limits, now: 9)
        let taken = try #require(try await store.cart(of: .user(id: other.id)))
        #expect(taken.lines.map(\.sku) == ["D"])
        try await store.close()
    }

    @Test("Checkout: all or nothing, order prices, the same key never orders twice", arguments: Backend.available)
    func checkout(backend: Backend) async throws {
        let opened = try await backend.open()
        defer { opened.remove() }
        let store = opened.commerce
        _ = try await store.upsert([Sample.simple(handle: "a", sku: "A", priceCents: 500, stock: 5),
                                    Sample.simple(handle: "b", sku: "B", priceCents: 700, stock: 1)])
        let user = try await store.createUser(email: "c@example.com", passwordHash: "h", role: .customer)
        let me = CartOwner.user(id: user.id)
        #expect(try await store.checkout(userID: user.id, idempotencyKey: "k0", currency: "EUR", now: 1) == .emptyCart)
        _ = try await store.addToCart(me, sku: "A", quantity: 2, limits: Self.limits, now: 1)
        _ = try await store.addToCart(me, sku: "B", quantity: 2, limits: Self.limits, now: 1)

        // B has only 1: nothing is taken, not even A.
        #expect(try await store.checkout(userID: user.id, idempotencyKey: "k1", currency: "EUR", now: 2)
            == .insufficientStock(sku: "B", available: 1))
        #expect(try await store.stock(skus: ["A", "B"]) == ["A": 5, "B": 1])
        #expect(try await store.cart(of: me)?.lines.count == 2, "a failed checkout keeps the cart")

        _ = try await store.setCartQuantity(me, sku: "B", quantity: 1, limits: Self.limits, now: 3)
        let outcome = try await store.checkout(userID: user.id, idempotencyKey: "k2", currency: "EUR", now: 3)
        guard case .placed(let order) = outcome else {
            Issue.record("expected an order, got \(outcome)")
            return
        }
        #expect(order.totalCents == 2 * 500 + 700)
        #expect(order.lines.map(\.sku) == ["A", "B"])
        #expect(order.lines.map(\.unitPriceCents) == [500, 700])
        #expect(order.lines.map(\.backordered) == [0, 0])
        #expect(try await store.stock(skus: ["A", "B"]) == ["A": 3, "B": 0])
        #expect(try await store.cart(of: me)?.lines.isEmpty == true)

        // A later price change does not touch the order; the same key returns it unchanged.
        _ = try await store.updateVariant(sku: "A", stock: nil, priceCents: 9999, now: 4)
        _ = try await store.addToCart(me, sku: "A", quantity: 1, limits: Self.limits, now: 4)
        #expect(try await store.checkout(userID: user.id, idempotencyKey: "k2", currency: "EUR", now: 5) == .replayed(order))
        #expect(try await store.stock(skus: ["A"]) == ["A": 3], "a replay takes nothing")
        try await store.close()
    }

    /// Medusa's way: fire them all at once, then judge the end state.
    @Test("200 concurrent checkouts of one unit against stock 50 make exactly 50 orders", arguments: Backend.available)
    func checkoutNeverOversells(backend: Backend) async throws {
        let opened = try await backend.open()
        defer { opened.remove() }
        let store = opened.commerce
        _ = try await store.upsert([Sample.simple(handle: "hot", sku: "HOT", priceCents: 1000, stock: 50)])
        var users: [String] = []
        for index in 0..<200 {
            let user = try await store.createUser(email: "buyer\(index)@example.com", passwordHash: "h", role: .customer)
            _ = try await store.addToCart(.user(id: user.id), sku: "HOT", quantity: 1, limits: Self.limits, now: 1)
            users.append(user.id)
        }
        let outcomes = try await Self.checkOutAtOnce(users, in: store)
        let placed = outcomes.compactMap { if case .placed(let order) = $0 { order } else { nil } }
        let refused = outcomes.filter { if case .insufficientStock(sku: "HOT", _) = $0 { true } else { false } }
        #expect(placed.count == 50)
        #expect(refused.count == 150)
        #expect(Set(placed.map(\.id)).count == 50)
        #expect(try await store.stock(skus: ["HOT"]) == ["HOT": 0])
        try await store.close()
    }

    @Test("A continue variant sells past its stock and the line records the backorder; a deny variant never does",
          arguments: Backend.available)
    func backorders(backend: Backend) async throws {
        let opened = try await backend.open()
        defer { opened.remove() }
        let store = opened.commerce
        _ = try await store.upsert([Sample.simple(handle: "later", sku: "LATER", priceCents: 900, stock: 2, policy: .continue),
                                    Sample.simple(handle: "gone", sku: "GONE", priceCents: 400, stock: 0, policy: .continue),
                                    Sample.simple(handle: "few", sku: "FEW", priceCents: 300, stock: 1)])
        let user = try await store.createUser(email: "b@example.com", passwordHash: "h", role: .customer)
        let me = CartOwner.user(id: user.id)
        _ = try await store.addToCart(me, sku: "LATER", quantity: 5, limits: Self.limits, now: 1)
        _ = try await store.addToCart(me, sku: "GONE", quantity: 3, limits: Self.limits, now: 1)
        _ = try await store.addToCart(me, sku: "FEW", quantity: 2, limits: Self.limits, now: 1)

        // The deny variant still refuses the whole order, backordered lines and all.
        #expect(try await store.checkout(userID: user.id, idempotencyKey: "k1", currency: "EUR", now: 2)
            == .insufficientStock(sku: "FEW", available: 1))
        #expect(try await store.stock(skus: ["LATER", "GONE", "FEW"]) == ["LATER": 2, "GONE": 0, "FEW": 1])

        _ = try await store.setCartQuantity(me, sku: "FEW", quantity: 1, limits: Self.limits, now: 3)
        let outcome = try await store.checkout(userID: user.id, idempotencyKey: "k2", currency: "EUR", now: 3)
        guard case .placed(let order) = outcome else {
            Issue.record("expected an order, got \(outcome)")
            return
        }
        #expect(order.lines.map(\.sku) == ["LATER", "GONE", "FEW"])
        #expect(order.lines.map(\.quantity) == [5, 3, 1])
        #expect(order.lines.map(\.backordered) == [3, 3, 0])
        #expect(order.totalCents == 5 * 900 + 3 * 400 + 300)
        #expect(try await store.stock(skus: ["LATER", "GONE", "FEW"]) == ["LATER": 0, "GONE": 0, "FEW": 0], "stock stops at 0")
        // The stock events carry what the shelves hold now.
        let events = try await store.stockEvents(after: 0, limit: 100)
        #expect(Dictionary(events.map { ($0.sku, $0.stock) }, uniquingKeysWith: { $1 }) == ["LATER": 0, "GONE": 0, "FEW": 0])
        // GONE was at 0 and stays there: its checkout announces nothing new for it.
        let goneEvents = events.filter { $0.sku == "GONE" }.count
        #expect(goneEvents == 1, "only the import announced GONE")
        // The replay reads the backorders back as they were written.
        #expect(try await store.checkout(userID: user.id, idempotencyKey: "k2", currency: "EUR", now: 4) == .replayed(order))
        try await store.close()
    }

    @Test("200 concurrent checkouts of a deny and a continue variant: the deny one never oversold, every backorder counted",
          arguments: Backend.available)
    func mixedPoliciesUnderRace(backend: Backend) async throws {
        let opened = try await backend.open()
        defer { opened.remove() }
        let store = opened.commerce
        _ = try await store.upsert([Sample.simple(handle: "hot", sku: "HOT", priceCents: 1000, stock: 50),
                                    Sample.simple(handle: "preorder", sku: "PRE", priceCents: 2000, stock: 20, policy: .continue)])
        // Half the buyers want one of each, half only the continue variant.
        var users: [String] = []
        for index in 0..<200 {
            let user = try await store.createUser(email: "buyer\(index)@example.com", passwordHash: "h", role: .customer)
            if index.isMultiple(of: 2) {
                _ = try await store.addToCart(.user(id: user.id), sku: "HOT", quantity: 1, limits: Self.limits, now: 1)
            }
            _ = try await store.addToCart(.user(id: user.id), sku: "PRE", quantity: 1, limits: Self.limits, now: 1)
            users.append(user.id)
        }
        let outcomes = try await Self.checkOutAtOnce(users, in: store)
        let placed = outcomes.compactMap { if case .placed(let order) = $0 { order } else { nil } }
        let refused = outcomes.filter { if case .insufficientStock(sku: "HOT", _) = $0 { true } else { false } }
        let hotLines = placed.flatMap(\.lines).filter { $0.sku == "HOT" }
        let preLines = placed.flatMap(\.lines).filter { $0.sku == "PRE" }
        #expect(hotLines.count == 50, "exactly the 50 on the shelf")
        #expect(hotLines.allSatisfy { $0.backordered == 0 })
        #expect(refused.count == 50)
        #expect(placed.count == 150)
        #expect(preLines.count == 150)
        #expect(preLines.reduce(0) { $0 + $1.quantity - $1.backordered } == 20, "the 20 on the shelf, each taken once")
        #expect(preLines.reduce(0) { $0 + $1.backordered } == 130)
        #expect(try await store.stock(skus: ["HOT", "PRE"]) == ["HOT": 0, "PRE": 0])
        try await store.close()
    }

    @Test("The same Idempotency-Key sent 20 times at once makes one order", arguments: Backend.available)
    func concurrentSameKey(backend: Backend) async throws {
        let opened = try await backend.open()
        defer { opened.remove() }
        let store = opened.commerce
        _ = try await store.upsert([Sample.simple(handle: "a", sku: "A", priceCents: 500, stock: 10)])
        let user = try await store.createUser(email: "k@example.com", passwordHash: "h", role: .customer)
        _ = try await store.addToCart(.user(id: user.id), sku: "A", quantity: 3, limits: Self.limits, now: 1)
        let outcomes = try await withThrowingTaskGroup(of: CheckoutOutcome.self) { group in
            for _ in 0..<20 {
                group.addTask { try await store.checkout(userID: user.id, idempotencyKey: "same", currency: "EUR", now: 2) }
            }
            var all: [CheckoutOutcome] = []
            for try await outcome in group { all.append(outcome) }
            return all
        }
        let placed = outcomes.compactMap { if case .placed(let order) = $0 { order } else { nil } }
        let replayed = outcomes.compactMap { if case .replayed(let order) = $0 { order } else { nil } }
        #expect(placed.count == 1)
        #expect(replayed.count == 19)
        let orderIDs = Set((placed + replayed).map(\.id))
        #expect(orderIDs.count == 1)
        #expect(try await store.stock(skus: ["A"]) == ["A": 7])
        try await store.close()
    }

    @Test("Admin updates set stock and price; unknown SKUs are nil", arguments: Backend.available)
    func updateVariant(backend: Backend) async throws {
        let opened = try await backend.open()
        defer { opened.remove() }
        let store = opened.commerce
        _ = try await store.upsert([Sample.simple(handle: "a", sku: "A", priceCents: 500, stock: 10)])
        let both = try await store.updateVariant(sku: "A", stock: 4, priceCents: 650, now: 1)
        #expect(both == VariantSummary(sku: "A", title: "Default Title", priceCents: 650, stock: 4))
        let stockOnly = try await store.updateVariant(sku: "A", stock: 0, priceCents: nil, now: 2)
        #expect(stockOnly == VariantSummary(sku: "A", title: "Default Title", priceCents: 650, stock: 0))
        let unknown = try await store.updateVariant(sku: "NOPE", stock: 1, priceCents: nil, now: 3)
        #expect(unknown == nil)
        try await store.close()
    }
}
