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
    ///
    /// `keys`: each product's digest; a product whose entry `reuse` holds (from
    /// the live index) is not made again. Also returns where each entry landed, for the next build.
    static func bytes(
        products: [Product], prices: PriceFormatter, keys: [String]? = nil, reuse: FeedFragments? = nil
    ) -> (bytes: [UInt8], pieces: FragmentRecorder) {
        var out: [UInt8] = [0x5B]  // [
        out.reserveCapacity(products.count * 300)
        var recorder = FragmentRecorder(expected: keys == nil ? 0 : products.count)
        // By index: `for product in products` copied every product (a reference count per field)
        // for the few whose entries are made anew.
        for index in products.indices {
            if index > 0 { out.append(0x2C) }  // ,
            let start = out.count
            if let keys, let reuse, reuse.append(keys[index], at: index, to: &out) {
                // The entry as the live index has it: the same bytes this would make.
            } else {
                out.append(contentsOf: entry(products[index], prices: prices))
            }
            if let keys { recorder.record(key: keys[index], offset: start, length: out.count - start) }
        }
        out.append(0x5D)  // ]
        return (out, recorder)
    }

    /// What an entry depends on besides its product: an index made under another frame is not used.
    static func frame(currency: String, locale: String) -> String {
        var digest = InputDigest("search-entries-\(BuildManifest.formatVersion)")
        digest.add([currency, locale])
        return digest.finish()
    }

    static func entry(_ product: Product, prices: PriceFormatter) -> [UInt8] {
        var json = ScriptSafeJSON()
        let lowest = product.lowestPriceCents ?? 0
        json.raw("{\"handle\":")
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
        return json.utf8
    }
}
