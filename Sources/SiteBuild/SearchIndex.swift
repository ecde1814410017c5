import Foundation
import ShopCore

/// /search-index.json: every published product in a few fields, for a search box that runs in the
/// browser with no server behind it (the static site has none).
enum SearchIndex {
    static let path = "search-index.json"

    struct Entry: Encodable {
        var handle: String
        /// Root-relative, as the page's links are.
        var url: String
        var title: String
        var vendor: String
        var type: String
        var tags: [String]
        /// Formatted as on a product card: "€24.00", or "from €12.00" when variants differ.
        var price: String
        /// The lowest price of any variant, in minor units, for sorting and filtering.
        var priceCents: Int
        /// The first image's source as the catalog has it; left out when there is none.
        var image: String?
    }

    static func json(products: [Product], prices: PriceFormatter) throws -> String {
        let entries = products.map { product -> Entry in
            let lowest = product.lowestPriceCents ?? 0
            return Entry(
                handle: product.handle, url: PageModels.productPath(product), title: product.title,
                vendor: product.vendor, type: product.productType, tags: product.tags,
                price: (product.hasVaryingPrices ? "from " : "") + prices.format(lowest),
                priceCents: lowest, image: product.images.first?.src)
        }
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        let data = try encoder.encode(entries)
        return String(decoding: data, as: UTF8.self)
    }
}
