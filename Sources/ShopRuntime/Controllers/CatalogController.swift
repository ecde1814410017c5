import Foundation
import Hummingbird
import ShopCore
import ShopStore

/// The read-only catalog API: products and live stock (API.md).
struct CatalogController<Context: RequestContext> {
    let store: any Store
    let currency: Currency
    /// Answers kept between requests, when the store keeps a catalog revision (SQLite); nil:
    /// every request reads the store.
    let revisions: (any CatalogRevisions)?
    let cache: CatalogCache

    init(store: any Store, currency: Currency, cache: CatalogCache = CatalogCache()) {
        self.store = store
        self.currency = currency
        revisions = store as? any CatalogRevisions
        self.cache = cache
    }

    static var maxSKUsPerRequest: Int { 200 }
    static var maxSKUBytes: Int { 255 }

    /// The wire shape of a product (API.md): a DTO, separate from the stored row.
    struct ProductResponse {
        struct VariantResponse {
            let sku: String
            let title: String
            let price_cents: Int
            let stock: Int
        }
        let handle: String
        let title: String
        let currency: String
        let variants: [VariantResponse]

        init(_ product: Product, currency: Currency) {
            handle = product.handle
            title = product.title
            self.currency = currency.code
            variants = product.variants.map {
                .init(sku: $0.sku, title: $0.title, price_cents: $0.priceCents, stock: $0.stock)
            }
        }

        var json: JSONOutput {
            var json = JSONOutput(capacity: 256 + variants.count * 96)
            json.raw("{\"handle\":")
            json.string(handle)
            json.raw(",\"title\":")
            json.string(title)
            json.raw(",\"currency\":")
            json.string(currency)
            json.raw(",\"variants\":[")
            for (index, variant) in variants.enumerated() {
                json.raw(index == 0 ? "{\"sku\":" : ",{\"sku\":")
                json.string(variant.sku)
                json.raw(",\"title\":")
                json.string(variant.title)
                json.raw(",\"price_cents\":")
                json.int(variant.price_cents)
                json.raw(",\"stock\":")
                json.int(variant.stock)
                json.raw("}")
            }
            json.raw("]}")
            return json
        }
    }

    struct StockResponse {
        let stock: [String: Int]

        var json: JSONOutput {
            var json = JSONOutput(capacity: 16 + stock.count * 32)
            json.raw("{\"stock\":{")
            var first = true
            // Sorted, so that the same stock always reads the same (caches, diffs, tests).
            for (sku, count) in stock.sorted(by: { $0.key < $1.key }) {
                if !first { json.raw(",") }
                first = false
                json.string(sku)
                json.raw(":")
                json.int(count)
            }
            json.raw("}}")
            return json
        }
    }

    func addRoutes(to router: Router<Context>) {
        router.get("/api/products/:handle", use: product)
        router.get("/api/stock", use: stock)
    }

    @Sendable func product(_ request: Request, context: Context) async throws -> Response {
        let handle = try context.parameters.require("handle")
        guard Handle.isValid(handle) else { throw Self.noProduct(handle) }
        guard let revisions else {
            guard let product = try await store.product(handle: handle) else { throw Self.noProduct(handle) }
            return ProductResponse(product, currency: currency).json.response()
        }
        let revision = try await revisions.catalogRevision()
        if let body = cache.product(handle: handle, at: revision) {
            return JSONOutput.response(body: body)
        }
        let (product, readAt) = try await revisions.productAtRevision(handle: handle)
        guard let product else { throw Self.noProduct(handle) }
        let json = ProductResponse(product, currency: currency).json
        cache.keep(product: json.buffer, handle: handle, at: readAt)
        return json.response()
    }

    static func noProduct(_ handle: String) -> APIError {
        APIError.notFound("No product has the handle \"\(handle.prefix(100))\".")
    }

    @Sendable func stock(_ request: Request, context: Context) async throws -> Response {
        // The same query text always gets the same answer at one revision (its checks included),
        // so a kept answer is looked up before the query is even parsed.
        let query = request.uri.query ?? ""
        let revision = try await revisions?.catalogRevision()
        if let revision, let body = cache.stockAnswer(query: query, at: revision) {
            return JSONOutput.response(body: body)
        }
        guard let list = request.uri.queryParameters["skus"] else {
            throw APIError(.badRequest, "missing_skus", "Give the SKUs as ?skus=A,B (at most \(Self.maxSKUsPerRequest)).")
        }
        var skus: [String] = []
        var seen: Set<Substring> = []
        for part in list.split(separator: ",") {
            let sku = part.trimmingSpaces
            guard !sku.isEmpty, seen.insert(sku).inserted else { continue }
            guard sku.utf8.count <= Self.maxSKUBytes else {
                throw APIError(.badRequest, "invalid_sku", "A SKU is at most \(Self.maxSKUBytes) bytes long.")
            }
            skus.append(String(sku))
            guard skus.count <= Self.maxSKUsPerRequest else {
                throw APIError(.badRequest, "too_many_skus", "Ask for at most \(Self.maxSKUsPerRequest) SKUs at once.")
            }
        }
        guard let revisions, let revision, !skus.isEmpty else {
            return StockResponse(stock: try await store.stock(skus: skus)).json.response()
        }
        if let kept = cache.stock(skus: skus, at: revision) {
            let json = StockResponse(stock: kept).json
            cache.keep(stockAnswer: json.buffer, query: query, at: revision)
            return json.response()
        }
        let (stock, readAt) = try await revisions.stockAtRevision(skus: skus)
        cache.keep(stock: stock, asked: skus, at: readAt)
        let json = StockResponse(stock: stock).json
        cache.keep(stockAnswer: json.buffer, query: query, at: readAt)
        return json.response()
    }
}
