import Foundation
import Hummingbird
import ShopCore
import ShopStore

/// The read-only catalog API: products and live stock (API.md).
struct CatalogController<Context: RequestContext> {
    let store: any Store
    let currency: Currency

    static var maxSKUsPerRequest: Int { 200 }
    static var maxSKUBytes: Int { 255 }

    /// The wire shape of a product: a DTO, separate from the stored row.
    struct ProductResponse: ResponseEncodable {
        struct VariantResponse: Encodable {
            let sku: String
            let title: String
            let price_cents: Int
            let stock: Int
        }
        let handle: String
        let title: String
        let currency: String
        let variants: [VariantResponse]
    }

    struct StockResponse: ResponseEncodable {
        let stock: [String: Int]
    }

    func addRoutes(to router: Router<Context>) {
        router.get("/api/products/:handle", use: product)
        router.get("/api/stock", use: stock)
    }

    @Sendable func product(_ request: Request, context: Context) async throws -> ProductResponse {
        let handle = try context.parameters.require("handle")
        guard Handle.isValid(handle), let product = try await store.product(handle: handle) else {
            throw APIError.notFound("No product has the handle \"\(handle.prefix(100))\".")
        }
        return ProductResponse(
            handle: product.handle, title: product.title, currency: currency.code,
            variants: product.variants.map {
                .init(sku: $0.sku, title: $0.title, price_cents: $0.priceCents, stock: $0.stock)
            })
    }

    @Sendable func stock(_ request: Request, context: Context) async throws -> StockResponse {
        guard let list = request.uri.queryParameters["skus"] else {
            throw APIError(.badRequest, "missing_skus", "Give the SKUs as ?skus=A,B (at most \(Self.maxSKUsPerRequest)).")
        }
        var skus: [String] = []
        var seen: Set<Substring> = []
        for part in list.split(separator: ",") {
            let sku = part.trimmingCharacters(in: .whitespaces)
            guard !sku.isEmpty, seen.insert(Substring(sku)).inserted else { continue }
            guard sku.utf8.count <= Self.maxSKUBytes else {
                throw APIError(.badRequest, "invalid_sku", "A SKU is at most \(Self.maxSKUBytes) bytes long.")
            }
            skus.append(sku)
            guard skus.count <= Self.maxSKUsPerRequest else {
                throw APIError(.badRequest, "too_many_skus", "Ask for at most \(Self.maxSKUsPerRequest) SKUs at once.")
            }
        }
        return StockResponse(stock: try await store.stock(skus: skus))
    }
}
