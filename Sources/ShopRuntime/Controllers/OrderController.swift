import Foundation
import Hummingbird
import ShopCore
import ShopStore

/// POST /api/checkout and PATCH /api/admin/variants/{sku} (API.md): the two writes of stock.
struct OrderController {
    typealias Context = ShopRequestContext
    let store: any CommerceStore
    let currency: Currency
    let events: any StockEvents
    let metrics: RuntimeMetrics

    struct OrderResponse: ResponseEncodable {
        let order_id: String
        let total_cents: Int
        let currency: String
        let items: [OrderLineResponse]

        init(_ order: StoredOrder) {
            order_id = order.id
            total_cents = order.totalCents
            currency = order.currency
            items = order.lines.map(OrderLineResponse.init)
        }
    }

    /// An order's line: a cart line's fields and how many of its units were backordered.
    struct OrderLineResponse: Encodable {
        let sku: String
        let title: String
        let quantity: Int
        let unit_price_cents: Int
        let line_total_cents: Int
        let backordered: Int

        init(_ line: OrderLine) {
            sku = line.sku
            title = line.title
            quantity = line.quantity
            unit_price_cents = line.unitPriceCents
            line_total_cents = line.lineTotalCents
            backordered = line.backordered
        }
    }

    struct VariantPatch: Decodable {
        let stock: WholeNumber?
        let price_cents: WholeNumber?
    }

    struct VariantResponse: ResponseEncodable {
        let sku: String
        let title: String
        let price_cents: Int
        let stock: Int
    }

    static let maxStock = 10_000_000

    func addRoutes(to router: some RouterMethods<Context>) {
        router.post("/api/checkout", use: checkout)
        router.patch("/api/admin/variants/:sku", use: updateVariant)
    }

    @Sendable func checkout(_ request: Request, context: Context) async throws -> Response {
        let identity = try context.requireIdentity()
        guard let key = request.headers[.idempotencyKey] else {
            throw APIError(.badRequest, "missing_idempotency_key", "Send an Idempotency-Key header (a UUID, say) with every checkout.")
        }
        guard (1...255).contains(key.utf8.count), key.utf8.allSatisfy({ $0 > 0x20 && $0 < 0x7F }) else {
            throw APIError(.badRequest, "invalid_idempotency_key", "The Idempotency-Key must be 1 to 255 visible ASCII characters.")
        }
        let outcome = try await store.checkout(userID: identity.userID, idempotencyKey: key, currency: currency.code,
                                               now: AuthService.now())
        switch outcome {
        case .placed(let order):
            metrics.checkoutFinished("placed")
            // The hub reads the new stock from the events table the store wrote in the same transaction.
            events.stockChanged()
            context.logger.info("order placed", metadata: ["order": "\(order.id)", "total_cents": "\(order.totalCents)"])
            return try OrderResponse(order).response(from: request, context: context).with(status: .created)
        case .replayed(let order):
            metrics.checkoutFinished("replayed")
            var response = try OrderResponse(order).response(from: request, context: context).with(status: .created)
            response.headers[.idempotentReplayed] = "true"
            return response
        case .emptyCart:
            metrics.checkoutFinished("empty_cart")
            throw APIError(.unprocessableContent, "cart_empty", "The cart is empty: add items before checking out.")
        case .insufficientStock(let sku, let available):
            metrics.checkoutFinished("insufficient_stock")
            throw APIError(.conflict, "insufficient_stock", "Only \(available) left of \(sku); nothing was charged or taken.", sku: sku)
        }
    }

    @Sendable func updateVariant(_ request: Request, context: Context) async throws -> Response {
        let identity = try context.requireIdentity()
        guard identity.role == .admin else { throw APIError(.forbidden, "forbidden", "Only an admin may change variants.") }
        let sku = try context.parameters.require("sku")
        try CartController.checkSKU(sku)
        guard let patch = try await JSONInput.decode(VariantPatch.self, from: request, context: context) else {
            throw APIError.invalidField("stock", "Give stock and/or price_cents.")
        }
        guard patch.stock != nil || patch.price_cents != nil else { throw APIError.invalidField("stock", "Give stock and/or price_cents.") }
        if let stock = patch.stock?.value, !(0...Self.maxStock).contains(stock) {
            throw APIError.invalidField("stock", "stock must be between 0 and \(Self.maxStock).")
        }
        if let price = patch.price_cents?.value, !(0...Money.maxMinorUnits).contains(price) {
            throw APIError.invalidField("price_cents", "price_cents must be between 0 and \(Money.maxMinorUnits).")
        }
        guard let variant = try await store.updateVariant(sku: sku, stock: patch.stock?.value, priceCents: patch.price_cents?.value,
                                                          now: AuthService.now())
        else {
            throw APIError(.notFound, "unknown_sku", "No variant has the SKU \(sku.prefix(100)).", sku: sku)
        }
        if patch.stock != nil { events.stockChanged() }
        context.logger.info("variant changed by an admin", metadata: ["sku": "\(sku)", "admin": "\(identity.userID)"])
        return try VariantResponse(sku: variant.sku, title: variant.title, price_cents: variant.priceCents, stock: variant.stock)
            .response(from: request, context: context)
    }
}
