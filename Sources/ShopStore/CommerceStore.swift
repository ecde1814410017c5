import Foundation
import ShopCore

/// What the runtime keeps besides the catalog: accounts, refresh tokens, carts and orders.
/// A sibling of `Store` (both backends implement both), so the build and the importer never see it.
/// It includes the stock events table (StockEventLog), which the live stock hub reads.
///
/// Every method is one transaction. Secrets never reach the database in the clear: refresh
/// tokens and guest cart tokens arrive here already hashed, passwords already bcrypted.
public protocol CommerceStore: Store, StockEventLog {
    // MARK: Accounts

    /// Creates an account; `.emailTaken` when the (lower-cased) email is already registered.
    func createUser(email: String, passwordHash: String, role: Role) async throws -> UserAccount
    func user(email: String) async throws -> UserAccount?
    func user(id: String) async throws -> UserAccount?

    // MARK: Refresh tokens

    /// Stores the first token of a new family (a sign-in).
    func issueRefreshToken(_ token: NewRefreshToken) async throws

    /// Spends `presentedHash` and stores `successor` in its family, in one conditional update:
    /// of two concurrent calls with the same token exactly one rotates, the other sees it spent.
    /// A spent token presented within `graceSeconds` of its rotation replays the same successor;
    /// later, it revokes its whole family (the token was stolen, or a client is broken).
    func rotateRefreshToken(presentedHash: String, successor: NewRefreshToken, now: Int64, graceSeconds: Int64) async throws
        -> RefreshRotation

    /// Revokes the family of the given token (sign-out). False when the token is unknown.
    func revokeRefreshFamily(tokenHash: String, now: Int64) async throws -> Bool

    // MARK: Carts

    /// The cart and its lines, with titles and prices read now from the catalog (never stored
    /// in the cart). Lines whose variant left the catalog are not shown. nil: no such cart.
    func cart(of owner: CartOwner) async throws -> StoredCart?

    /// Adds `quantity` to the SKU's line (creating the cart and the line when needed).
    func addToCart(_ owner: CartOwner, sku: String, quantity: Int, limits: CartLimits, now: Int64) async throws -> CartChange

    /// `addToCart`, then the cart as `cart(of:)` reads it afterwards (nil when the add was
    /// refused: the route answers with the refusal): what POST /api/cart/items answers with. A store may do both in one transaction (SQLite does: it saves taking a
    /// reader and a second transaction on every call); the default calls one after the other.
    func addToCartReadingCart(_ owner: CartOwner, sku: String, quantity: Int, limits: CartLimits, now: Int64) async throws
        -> (change: CartChange, cart: StoredCart?)

    /// Sets a line's quantity; 0 removes the line.
    func setCartQuantity(_ owner: CartOwner, sku: String, quantity: Int, limits: CartLimits, now: Int64) async throws -> CartChange

    /// Moves a guest cart's lines into the user's cart (quantities add up, capped by the limits)
    /// and deletes the guest cart. Nothing happens when the guest cart does not exist.
    func mergeGuestCart(tokenHash: String, intoUser userID: String, limits: CartLimits, now: Int64) async throws

    // MARK: Orders

    /// Places the user's cart as an order in one transaction: the cart's variants are locked,
    /// stock is taken as `CheckoutPlan` says (never past a `deny` variant's stock; a `continue`
    /// variant's shortfall is backordered), the order is written with the prices of that
    /// moment, the cart is emptied. All or nothing. The same (user, idempotency key) returns the
    /// order it made.
    func checkout(userID: String, idempotencyKey: String, currency: String, now: Int64) async throws -> CheckoutOutcome

    // MARK: Admin

    /// Sets a variant's stock and/or price. nil: no variant has that SKU.
    func updateVariant(sku: String, stock: Int?, priceCents: Int?, now: Int64) async throws -> VariantSummary?

    /// Removes guest carts untouched since `guestCartsUntouchedSince` and refresh-token families
    /// whose every token expired before `now` (Housekeeping.swift).
    func removeExpired(guestCartsUntouchedSince: Int64, now: Int64) async throws -> HousekeepingResult
}

public enum Role: String, Sendable, Codable, CaseIterable {
    case customer, admin
}

public struct UserAccount: Sendable, Equatable {
    public var id: String
    public var email: String
    public var passwordHash: String
    public var role: Role

    public init(id: String, email: String, passwordHash: String, role: Role) {
        self.id = id
        self.email = email
        self.passwordHash = passwordHash
        self.role = role
    }
}

public enum CommerceError: Error, Equatable, CustomStringConvertible {
    case emailTaken(String)

    public var description: String {
        switch self {
        case .emailTaken(let email): "an account with the email \(email) already exists"
        }
    }
}

public struct NewRefreshToken: Sendable, Equatable {
    public var hash: String
    public var userID: String
    public var familyID: String
    public var issuedAt: Int64
    public var expiresAt: Int64

    public init(hash: String, userID: String, familyID: String, issuedAt: Int64, expiresAt: Int64) {
        self.hash = hash
        self.userID = userID
        self.familyID = familyID
        self.issuedAt = issuedAt
        self.expiresAt = expiresAt
    }
}

public enum RefreshRotation: Sendable, Equatable {
    /// The token was live; it is spent now and the successor is stored.
    case rotated(userID: String, familyID: String)
    /// The token was spent moments ago with this very successor (two tabs at once): the
    /// successor stands, issued at `rotatedAt`.
    case replayed(userID: String, familyID: String, rotatedAt: Int64)
    /// A spent token came back after the grace window: its family is revoked now.
    case reused(familyID: String)
    /// Unknown, expired or revoked.
    case invalid
}

/// Who a cart belongs to: a guest (by the hash of its X-Cart-Token) or a signed-in user.
public enum CartOwner: Sendable, Hashable {
    case guest(tokenHash: String)
    case user(id: String)
}

/// The cart rule, written once for every backend: a line holds 1 to `maxQuantity` units, a cart
/// at most `maxLines` lines. A backend reads the line (and, for a new line, the cart's line
/// count), asks `lineAfterAdding`, and writes what it answers.
public struct CartLimits: Sendable, Equatable {
    public var maxQuantity: Int
    public var maxLines: Int

    public init(maxQuantity: Int = 99, maxLines: Int = 100) {
        self.maxQuantity = maxQuantity
        self.maxLines = maxLines
    }

    /// What a line holds once `quantity` is added to the `existing` one (nil: no line yet, in a
    /// cart of `linesInCart` lines). `capped` (merging a guest cart at sign-in): a total over the
    /// limit is cut to it rather than refused.
    func lineAfterAdding(_ quantity: Int, to existing: Int?, linesInCart: Int, capped: Bool) -> LineAfterAdding {
        var total = (existing ?? 0) + quantity
        if total > maxQuantity {
            guard capped else { return .refused(.quantityOutOfRange(max: maxQuantity)) }
            total = maxQuantity
        }
        if existing == nil, linesInCart >= maxLines { return .refused(.tooManyLines(max: maxLines)) }
        return .quantity(total)
    }

    enum LineAfterAdding: Equatable {
        case quantity(Int)
        /// The change to answer with; nothing is written.
        case refused(CartChange)
    }
}

public enum CartChange: Sendable, Equatable {
    case updated
    /// No published variant has this SKU.
    case unknownSKU
    /// The line would hold more than the limit.
    case quantityOutOfRange(max: Int)
    case tooManyLines(max: Int)
    /// The SKU is not in the cart (a quantity update or removal).
    case notInCart
    /// The owner has no cart (a guest token that matches nothing).
    case noCart
}

public struct CartLine: Sendable, Equatable {
    public var sku: String
    public var title: String
    public var quantity: Int
    public var unitPriceCents: Int

    public init(sku: String, title: String, quantity: Int, unitPriceCents: Int) {
        self.sku = sku
        self.title = title
        self.quantity = quantity
        self.unitPriceCents = unitPriceCents
    }

    public var lineTotalCents: Int { quantity * unitPriceCents }
}

public struct StoredCart: Sendable, Equatable {
    public var id: String
    public var lines: [CartLine]

    public init(id: String, lines: [CartLine]) {
        self.id = id
        self.lines = lines
    }
}

/// A line of an order: what was bought at what price, and how many of its units were sold past
/// the variant's stock (a `continue` variant's backorder; always 0 for a `deny` variant).
public struct OrderLine: Sendable, Equatable {
    public var sku: String
    public var title: String
    public var quantity: Int
    public var unitPriceCents: Int
    public var backordered: Int

    public init(sku: String, title: String, quantity: Int, unitPriceCents: Int, backordered: Int = 0) {
        self.sku = sku
        self.title = title
        self.quantity = quantity
        self.unitPriceCents = unitPriceCents
        self.backordered = backordered
    }

    init(_ line: CartLine, backordered: Int) {
        self.init(sku: line.sku, title: line.title, quantity: line.quantity, unitPriceCents: line.unitPriceCents,
                  backordered: backordered)
    }

    public var lineTotalCents: Int { quantity * unitPriceCents }
}

public struct StoredOrder: Sendable, Equatable {
    public var id: String
    public var userID: String
    public var totalCents: Int
    public var currency: String
    public var lines: [OrderLine]
    public var createdAt: Int64

    public init(id: String, userID: String, totalCents: Int, currency: String, lines: [OrderLine], createdAt: Int64) {
        self.id = id
        self.userID = userID
        self.totalCents = totalCents
        self.currency = currency
        self.lines = lines
        self.createdAt = createdAt
    }
}

public enum CheckoutOutcome: Sendable, Equatable {
    /// A new order; the stock it took is in the stock events of the same transaction.
    case placed(StoredOrder)
    /// The idempotency key was used before: the order it made, nothing taken twice.
    case replayed(StoredOrder)
    case emptyCart
    /// Nothing was taken: this SKU has only `available` left.
    case insufficientStock(sku: String, available: Int)
}

public struct VariantSummary: Sendable, Equatable {
    public var sku: String
    public var title: String
    public var priceCents: Int
    public var stock: Int

    public init(sku: String, title: String, priceCents: Int, stock: Int) {
        self.sku = sku
        self.title = title
        self.priceCents = priceCents
        self.stock = stock
    }
}

enum CommerceNames {
    /// A cart line's title: the product's, and the variant's options when it has any.
    static func lineTitle(product: String, options: [String?]) -> String {
        let values = options.compactMap { $0 }
        return values.isEmpty ? product : "\(product) – \(values.joined(separator: " / "))"
    }

    static func variantTitle(options: [String?]) -> String {
        let values = options.compactMap { $0 }
        return values.isEmpty ? Product.defaultVariantTitle : values.joined(separator: " / ")
    }

    static func newID() -> String { UUID().uuidString.lowercased() }
}

extension StoreLocator {
    /// Opens a store the runtime can use: every backend is one.
    public static func openCommerce(_ location: String) async throws -> any CommerceStore {
        let store = try await open(location)
        guard let commerce = store as? any CommerceStore else {
            try await store.close()
            throw StoreError.unsupportedDatabase(redacted(location))
        }
        return commerce
    }
}

extension CommerceStore {
    public func addToCartReadingCart(_ owner: CartOwner, sku: String, quantity: Int, limits: CartLimits, now: Int64) async throws
        -> (change: CartChange, cart: StoredCart?)
    {
        let change = try await addToCart(owner, sku: sku, quantity: quantity, limits: limits, now: now)
        return (change, change == .updated ? try await cart(of: owner) : nil)
    }
}

