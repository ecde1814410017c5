import Foundation
import Hummingbird
import ShopCore
import ShopStore

/// The cart routes (API.md). A cart is reached only by its owner's access token or its own
/// X-Cart-Token (128 random bits, stored hashed); its id is informative and opens nothing.
struct CartController {
    typealias Context = ShopRequestContext
    let store: any CommerceStore
    let currency: Currency
    let limits: CartLimits

    static let tokenBytes = 16

    /// The cart as API.md writes it, with JSONOutput: the cart test's profile had Foundation's
    /// JSONEncoder among its largest costs. `id` is null (not missing) for a cart that does not
    /// exist yet.
    struct CartResponse {
        let id: String?
        let currency: String
        let lines: [CartLine]

        init(_ cart: StoredCart?, currency: Currency) {
            id = cart?.id
            self.currency = currency.code
            lines = cart?.lines ?? []
        }

        var json: JSONOutput {
            var json = JSONOutput(capacity: 96 + lines.count * 160)
            // Keys in sorted order, as the JSONEncoder that writes orders does.
            json.raw("{\"currency\":")
            json.string(currency)
            json.raw(",\"id\":")
            if let id { json.string(id) } else { json.raw("null") }
            json.raw(",\"items\":[")
            var subtotal = 0
            for (index, line) in lines.enumerated() {
                json.raw(index == 0 ? "{\"line_total_cents\":" : ",{\"line_total_cents\":")
                json.int(line.lineTotalCents)
                json.raw(",\"quantity\":")
                json.int(line.quantity)
                json.raw(",\"sku\":")
                json.string(line.sku)
                json.raw(",\"title\":")
                json.string(line.title)
                json.raw(",\"unit_price_cents\":")
                json.int(line.unitPriceCents)
                json.raw("}")
                subtotal += line.lineTotalCents
            }
            json.raw("],\"subtotal_cents\":")
            json.int(subtotal)
            json.raw("}")
            return json
        }
    }

    struct AddInput: Decodable {
        let sku: String
        let quantity: WholeNumber
    }

    struct QuantityInput: Decodable {
        let quantity: WholeNumber
    }

    func addRoutes(to router: some RouterMethods<Context>) {
        router.get("/api/cart", use: show)
        router.post("/api/cart/items", use: add)
        router.patch("/api/cart/items/:sku", use: update)
        router.delete("/api/cart/items/:sku", use: remove)
    }

    enum Owner {
        case none
        case known(CartOwner)
    }

    /// The user's cart when a valid bearer token comes (an invalid one is a 401, never a guest);
    /// otherwise the guest cart of the X-Cart-Token.
    private func owner(_ request: Request, _ context: Context) throws -> Owner {
        if let identity = context.identity { return .known(.user(id: identity.userID)) }
        guard let token = request.headers[.xCartToken] else { return .none }
        guard Secrets.isWellFormedToken(token, bytes: Self.tokenBytes) else { throw Self.cartNotFound }
        return .known(.guest(tokenHash: Secrets.sha256Hex(token)))
    }

    static var cartNotFound: APIError {
        APIError(.notFound, "cart_not_found", "No cart has this X-Cart-Token (it may have been merged at sign-in).")
    }

    private func respond(_ owner: CartOwner?, request: Request, context: Context, newToken: String? = nil) async throws -> Response {
        let cart = try await owner.asyncMap { try await store.cart(of: $0) } ?? nil
        var response = CartResponse(cart, currency: currency).json.response()
        if let newToken { response.headers[.xCartToken] = newToken }
        return response
    }

    @Sendable func show(_ request: Request, context: Context) async throws -> Response {
        switch try owner(request, context) {
        case .none:
            return try await respond(nil, request: request, context: context)
        case .known(let owner):
            if case .guest = owner, try await store.cart(of: owner) == nil { throw Self.cartNotFound }
            return try await respond(owner, request: request, context: context)
        }
    }

    static func checkSKU(_ sku: String) throws {
        guard (1...255).contains(sku.utf8.count) else { throw APIError.invalidField("sku", "sku must be 1 to 255 bytes long.") }
    }

    @Sendable func add(_ request: Request, context: Context) async throws -> Response {
        let who = try owner(request, context)
        guard let input = try await JSONInput.decode(AddInput.self, from: request, context: context) else { throw Self.cartNotFound }
        try Self.checkSKU(input.sku)
        guard (1...limits.maxQuantity).contains(input.quantity.value) else {
            throw APIError.invalidField("quantity", "quantity must be between 1 and \(limits.maxQuantity).")
        }
        var newToken: String?
        let cartOwner: CartOwner
        switch who {
        case .none:
            // A guest's first cart call: the cart and its token are made here, by the server.
            let token = Secrets.randomToken(bytes: Self.tokenBytes)
            newToken = token
            cartOwner = .guest(tokenHash: Secrets.sha256Hex(token))
        case .known(let owner):
            if case .guest = owner, try await store.cart(of: owner) == nil { throw Self.cartNotFound }
            cartOwner = owner
        }
        let (change, cart) = try await store.addToCartReadingCart(cartOwner, sku: input.sku, quantity: input.quantity.value,
                                                                  limits: limits, now: AuthService.now())
        try Self.check(change, sku: input.sku)
        var response = CartResponse(cart, currency: currency).json.response()
        if let newToken { response.headers[.xCartToken] = newToken }
        return response
    }

    @Sendable func update(_ request: Request, context: Context) async throws -> Response {
        let sku = try context.parameters.require("sku")
        try Self.checkSKU(sku)
        guard case .known(let owner) = try owner(request, context) else { throw Self.cartNotFound }
        guard let input = try await JSONInput.decode(QuantityInput.self, from: request, context: context) else { throw Self.cartNotFound }
        guard (0...limits.maxQuantity).contains(input.quantity.value) else {
            throw APIError.invalidField("quantity", "quantity must be between 0 (remove the line) and \(limits.maxQuantity).")
        }
        try Self.check(try await store.setCartQuantity(owner, sku: sku, quantity: input.quantity.value, limits: limits,
                                                       now: AuthService.now()), sku: sku)
        return try await respond(owner, request: request, context: context)
    }

    @Sendable func remove(_ request: Request, context: Context) async throws -> Response {
        let sku = try context.parameters.require("sku")
        try Self.checkSKU(sku)
        guard case .known(let owner) = try owner(request, context) else { throw Self.cartNotFound }
        // Removing a line that is not there leaves the cart as asked: not an error.
        let change = try await store.setCartQuantity(owner, sku: sku, quantity: 0, limits: limits, now: AuthService.now())
        if change == .noCart, case .guest = owner { throw Self.cartNotFound }
        return try await respond(owner, request: request, context: context)
    }

    static func check(_ change: CartChange, sku: String) throws {
        switch change {
        case .updated: return
        case .unknownSKU: throw APIError(.notFound, "unknown_sku", "No product on sale has the SKU \(sku.prefix(100)).", sku: String(sku.prefix(255)))
        case .quantityOutOfRange(let max):
            throw APIError.invalidField("quantity", "A cart line holds at most \(max) units.")
        case .tooManyLines(let max): throw APIError(.unprocessableContent, "cart_full", "A cart holds at most \(max) different items.")
        case .notInCart: throw APIError(.notFound, "not_in_cart", "The cart has no line with the SKU \(sku.prefix(100)).", sku: String(sku.prefix(255)))
        case .noCart: throw cartNotFound
        }
    }
}

extension Optional {
    func asyncMap<T>(_ transform: (Wrapped) async throws -> T) async rethrows -> T? {
        guard let value = self else { return nil }
        return try await transform(value)
    }
}
