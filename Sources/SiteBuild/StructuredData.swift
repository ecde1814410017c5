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
/// Written by a small JSON writer, never by pasting strings, that makes every string safe for a
/// `<script>` element as it goes: "<", ">" and "&" can only occur inside JSON strings, where
/// `\u003c` means the same character, so a title holding "</script>" cannot end the element (nor
/// open a comment with "<!--"). JSONEncoder did the same job at a tenth of a build's time.
enum StructuredData {
    /// `description` is the product's body as plain text.
    /// `images` are the absolute URLs of its pictures.
    static func productPage(
        _ product: Product, description: String, images: [String], trail: [Crumb], currency: Currency, urls: SiteURLs
    ) throws -> String {
        let url = urls.encoded(PageModels.productPath(product))
        var json = ScriptSafeJSON()
        json.raw("[{\"@context\":\"https://schema.org\",\"@type\":\"Product\",\"name\":")
        json.string(product.title)
        if !description.isEmpty {
            json.raw(",\"description\":")
            json.string(description)
        }
        if !images.isEmpty {
            json.raw(",\"image\":[")
            for (index, image) in images.enumerated() {
                if index > 0 { json.raw(",") }
                json.string(image)
            }
            json.raw("]")
        }
        // Only for a product of one variant; with several, each Offer names its own SKU.
        if product.variants.count == 1 {
            json.raw(",\"sku\":")
            json.string(product.variants[0].sku)
        }
        if !product.vendor.isEmpty {
            json.raw(",\"brand\":{\"@type\":\"Brand\",\"name\":")
            json.string(product.vendor)
            json.raw("}")
        }
        json.raw(",\"url\":")
        json.string(url)
        json.raw(",\"offers\":[")
        for (index, variant) in product.variants.enumerated() {
            if index > 0 { json.raw(",") }
            json.raw("{\"@type\":\"Offer\",\"sku\":")
            json.string(variant.sku)
            // Decimal text ("24.00"), as schema.org recommends over a JSON number.
            json.raw(",\"price\":")
            json.string(Money.decimalText(variant.priceCents, currency: currency))
            json.raw(",\"priceCurrency\":")
            json.string(currency.code)
            json.raw(",\"availability\":\"\(StockState(variant).schemaOrg)\",\"itemCondition\":\"https://schema.org/NewCondition\",\"url\":")
            json.string(url)
            json.raw("}")
        }
        json.raw("]},{\"@context\":\"https://schema.org\",\"@type\":\"BreadcrumbList\",\"itemListElement\":[")
        for (index, crumb) in trail.enumerated() {
            if index > 0 { json.raw(",") }
            json.raw("{\"@type\":\"ListItem\",\"position\":\(index + 1),\"name\":")
            json.string(crumb.title)
            json.raw(",\"item\":")
            json.string(urls.encoded(crumb.path))
            json.raw("}")
        }
        json.raw("]}]")
        return json.text
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

/// JSON text safe inside a `<script>` element: strings escaped per RFC 8259, and "<", ">", "&",
/// U+2028/U+2029 (line ends to older JavaScript) and the characters HTML calls unfit for pages
/// (C1 controls, noncharacters) written as `\u` escapes, which mean the same to a JSON reader.
struct ScriptSafeJSON {
    private var bytes: [UInt8] = []

    init() {
        bytes.reserveCapacity(2048)
    }

    var text: String { String(decoding: bytes, as: UTF8.self) }
    var utf8: [UInt8] { bytes }

    /// JSON punctuation and keys that ishop writes itself.
    mutating func raw(_ text: String) {
        bytes.append(contentsOf: text.utf8)
    }

    mutating func string(_ value: String) {
        bytes.append(0x22)
        var value = value
        value.withUTF8 { Self.appendEscaped($0, to: &bytes) }
        bytes.append(0x22)
    }

    /// Over the UTF-8 bytes, copying runs that need no escape at once: a scalar walk with an
    /// append per character was 3% of a 10,000-product build. Only the lead bytes of the
    /// scalars that may need one (0xC2: C1 controls; 0xE2: U+2028/9; 0xEF: U+FDD0..., U+FFFE/F;
    /// 0xF0 and up: the other planes' noncharacters) stop the run and are decoded.
    private static func appendEscaped(_ utf8: UnsafeBufferPointer<UInt8>, to out: inout [UInt8]) {
        var index = 0
        var runStart = 0
        while index < utf8.count {
            let byte = utf8[index]
            let plainASCII = byte >= 0x20 && byte < 0x7F && byte != 0x22 && byte != 0x5C && byte != 0x3C && byte != 0x3E && byte != 0x26
            let plainMultibyte = byte >= 0x80 && byte != 0xC2 && byte != 0xE2 && byte != 0xEF && byte < 0xF0
            if plainASCII || plainMultibyte {
                index += 1
                continue
            }
            out.append(contentsOf: UnsafeBufferPointer(rebasing: utf8[runStart..<index]))
            if byte < 0x80 {
                switch byte {
                case 0x22: out.append(0x5C); out.append(0x22)
                case 0x5C: out.append(0x5C); out.append(0x5C)
                case 0x0A: out.append(0x5C); out.append(0x6E)
                case 0x0D: out.append(0x5C); out.append(0x72)
                case 0x09: out.append(0x5C); out.append(0x74)
                default: out.append(contentsOf: StructuredData.jsonEscape(Unicode.Scalar(byte)).utf8)
                }
                index += 1
            } else {
                // A valid String's lead byte says how long its scalar is.
                let length = byte >= 0xF0 ? 4 : byte >= 0xE0 ? 3 : 2
                var value = UInt32(byte) & (length == 4 ? 0x07 : length == 3 ? 0x0F : 0x1F)
                for continuation in utf8[(index + 1)..<(index + length)] { value = value << 6 | UInt32(continuation & 0x3F) }
                let scalar = Unicode.Scalar(value)!
                if value == 0x2028 || value == 0x2029 || PlainText.isUnfitForPages(scalar) {
                    out.append(contentsOf: StructuredData.jsonEscape(scalar).utf8)
                } else {
                    out.append(contentsOf: UnsafeBufferPointer(rebasing: utf8[index..<(index + length)]))
                }
                index += length
            }
            runStart = index
        }
        out.append(contentsOf: UnsafeBufferPointer(rebasing: utf8[runStart..<index]))
    }
}
