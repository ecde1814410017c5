import Foundation
import ShopCore

/// Whether a variant can be bought now, in the three states search engines and Merchant Center know.
enum StockState {
    case inStock, outOfStock, backorder

    init(_ variant: Variant) {
        if variant.stock > 0 {
            self = .inStock
        } else {
            self = variant.inventoryPolicy == .continue ? .backorder : .outOfStock
        }
    }

    var schemaOrg: String {
        switch self {
        case .inStock: "https://schema.org/InStock"
        case .outOfStock: "https://schema.org/OutOfStock"
        case .backorder: "https://schema.org/BackOrder"
        }
    }

    var merchantCenter: String {
        switch self {
        case .inStock: "in_stock"
        case .outOfStock: "out_of_stock"
        case .backorder: "backorder"
        }
    }
}

/// One step of a breadcrumb trail: what it is called and where it is (root-relative).
struct Crumb {
    var title: String
    var path: String
}

/// schema.org JSON-LD for a product page: the Product with one Offer per variant, and its
/// BreadcrumbList, so search results can show price, stock and the trail.
///
/// Written by JSONEncoder, never by pasting strings, and then made safe for a `<script>` element:
/// "<", ">" and "&" can only occur inside JSON strings, where `\u003c` means the same character,
/// so a title holding "</script>" cannot end the element (nor open a comment with "<!--").
enum StructuredData {
    struct Brand: Encodable {
        let type = "Brand"
        var name: String
        enum CodingKeys: String, CodingKey { case type = "@type", name }
    }

    struct Offer: Encodable {
        let type = "Offer"
        var sku: String
        /// Decimal text ("24.00"), as schema.org recommends over a JSON number.
        var price: String
        var priceCurrency: String
        var availability: String
        var itemCondition = "https://schema.org/NewCondition"
        var url: String
        enum CodingKeys: String, CodingKey {
            case type = "@type", sku, price, priceCurrency, availability, itemCondition, url
        }
    }

    struct ProductData: Encodable {
        let context = "https://schema.org"
        let type = "Product"
        var name: String
        var description: String?
        var image: [String]?
        /// Only for a product of one variant; with several, each Offer names its own SKU.
        var sku: String?
        var brand: Brand?
        var url: String
        var offers: [Offer]
        enum CodingKeys: String, CodingKey {
            case context = "@context", type = "@type", name, description, image, sku, brand, url, offers
        }
    }

    struct ListItem: Encodable {
        let type = "ListItem"
        var position: Int
        var name: String
        var item: String
        enum CodingKeys: String, CodingKey { case type = "@type", position, name, item }
    }

    struct BreadcrumbList: Encodable {
        let context = "https://schema.org"
        let type = "BreadcrumbList"
        var itemListElement: [ListItem]
        enum CodingKeys: String, CodingKey { case context = "@context", type = "@type", itemListElement }
    }

    /// Both documents of a product page in one JSON array: one `<script>` element on the page.
    struct ProductPage: Encodable {
        var product: ProductData
        var breadcrumbs: BreadcrumbList

        func encode(to encoder: any Encoder) throws {
            var container = encoder.unkeyedContainer()
            try container.encode(product)
            try container.encode(breadcrumbs)
        }
    }

    static func productPage(_ product: Product, trail: [Crumb], currency: Currency, urls: SiteURLs) throws -> String {
        let url = urls.encoded(PageModels.productPath(product))
        let description = PlainText.fromHTML(product.bodyHTML)
        let images = product.images.compactMap { urls.image($0.src) }
        let data = ProductData(
            name: product.title,
            description: description.isEmpty ? nil : description,
            image: images.isEmpty ? nil : images,
            sku: product.variants.count == 1 ? product.variants[0].sku : nil,
            brand: product.vendor.isEmpty ? nil : Brand(name: product.vendor),
            url: url,
            offers: product.variants.map { variant in
                Offer(sku: variant.sku, price: Money.decimalText(variant.priceCents, currency: currency),
                      priceCurrency: currency.code, availability: StockState(variant).schemaOrg, url: url)
            })
        let list = BreadcrumbList(itemListElement: trail.enumerated().map { index, crumb in
            ListItem(position: index + 1, name: crumb.title, item: urls.encoded(crumb.path))
        })
        return try scriptSafeJSON(ProductPage(product: data, breadcrumbs: list))
    }

    static func scriptSafeJSON(_ value: some Encodable) throws -> String {
        let encoder = JSONEncoder()
        // Sorted keys: the same catalog gives the same bytes, so unchanged pages stay unchanged.
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        let encoded = try encoder.encode(value)
        let json = String(decoding: encoded, as: UTF8.self)
        // Plain ASCII without markup characters (most catalogs) needs no second pass.
        if !encoded.contains(where: { $0 == UInt8(ascii: "<") || $0 == UInt8(ascii: ">") || $0 == UInt8(ascii: "&") || $0 >= 0x80 }) {
            return json
        }
        var safe = ""
        safe.reserveCapacity(json.utf8.count)
        for scalar in json.unicodeScalars {
            switch scalar {
            case "<": safe += "\\u003c"
            case ">": safe += "\\u003e"
            case "&": safe += "\\u0026"
            // Line and paragraph separators end a line in older JavaScript parsers.
            case "\u{2028}": safe += "\\u2028"
            case "\u{2029}": safe += "\\u2029"
            default:
                // C1 controls and noncharacters make a page invalid HTML even inside a script;
                // JSON can still carry them, escaped.
                if PlainText.isUnfitForPages(scalar) { safe += jsonEscape(scalar) } else { safe.unicodeScalars.append(scalar) }
            }
        }
        return safe
    }

    /// `\uXXXX`, or a surrogate pair of them above the Basic Multilingual Plane.
    static func jsonEscape(_ scalar: Unicode.Scalar) -> String {
        func hex(_ unit: UInt32) -> String {
            let digits = String(unit, radix: 16)
            return "\\u" + String(repeating: "0", count: max(0, 4 - digits.count)) + digits
        }
        guard scalar.value > 0xFFFF else { return hex(scalar.value) }
        let offset = scalar.value - 0x10000
        return hex(0xD800 + (offset >> 10)) + hex(0xDC00 + (offset & 0x3FF))
    }
}
