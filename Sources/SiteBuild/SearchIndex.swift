import Foundation
import ShopCore

/// /search-index.json: every published product in a few fields, for a search box that runs in the
/// browser with no server behind it (the static site has none).
enum SearchIndex {
    static let path = "search-index.json"

    /// One object per product, keys in sorted order (the same catalog gives the same bytes):
    /// `handle`, `image` (the first image's source as the catalog has it; left out when there is
    /// none), `price` (as on a card: "€24.00", or "from €12.00" when variants differ),
    /// `priceCents` (the lowest price, for sorting and filtering), `tags`, `title`, `type`, `url`
    /// (root-relative, as the page's links are), `vendor`. Written by hand, not by JSONEncoder,
    /// which took a second for 100,000 products; strings are escaped as in the pages' JSON-LD.
    static func json(products: [Product], prices: PriceFormatter) throws -> String {
        var json = ScriptSafeJSON()
        json.raw("[")
        for (index, product) in products.enumerated() {
            let lowest = product.lowestPriceCents ?? 0
            json.raw(index == 0 ? "{\"handle\":" : ",{\"handle\":")
            json.string(product.handle)
            if let image = product.images.first?.src {
                json.raw(",\"image\":")
                json.string(image)
            }
            json.raw(",\"price\":")
            json.string((product.hasVaryingPrices ? "from " : "") + prices.format(lowest))
            json.raw(",\"priceCents\":\(lowest),\"tags\":[")
            for (position, tag) in product.tags.enumerated() {
                if position > 0 { json.raw(",") }
                json.string(tag)
            }
            json.raw("],\"title\":")
            json.string(product.title)
            json.raw(",\"type\":")
            json.string(product.productType)
            json.raw(",\"url\":")
            json.string(PageModels.productPath(product))
            json.raw(",\"vendor\":")
            json.string(product.vendor)
            json.raw("}")
        }
        json.raw("]")
        return json.text
    }
}
