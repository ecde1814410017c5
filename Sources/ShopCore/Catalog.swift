import Foundation

/// The shop's catalog as the rest of ishop sees it: plain values, no storage concerns.
///
/// These are the shapes that the Store returns and the importer produces. Request and response
/// types of the runtime are separate (DTOs), so a client can never set a field it should not.

public enum InventoryPolicy: String, Sendable, Hashable, Codable, CaseIterable {
    /// Stop selling at zero (Shopify's "deny").
    case deny
    /// Keep selling at zero (Shopify's "continue"): backorders.
    case `continue`
}

public struct ProductImage: Sendable, Hashable, Codable {
    /// Where the image comes from: an http(s) URL, or a root-relative path of the site's static files.
    public var src: String
    /// 1-based order on the product page; the first is the product's main image.
    public var position: Int
    public var alt: String

    public init(src: String, position: Int, alt: String = "") {
        self.src = src
        self.position = position
        self.alt = alt
    }
}

public struct Variant: Sendable, Hashable, Codable {
    public var sku: String
    /// Values of the product's options in order (up to three), e.g. ["A4", "Oak"].
    public var options: [String]
    public var priceCents: Int
    public var compareAtCents: Int?
    public var stock: Int
    public var inventoryPolicy: InventoryPolicy
    public var grams: Int
    public var requiresShipping: Bool
    public var taxable: Bool
    public var barcode: String
    public var imageSrc: String
    public var weightUnit: String

    public init(
        sku: String, options: [String], priceCents: Int, compareAtCents: Int? = nil, stock: Int,
        inventoryPolicy: InventoryPolicy = .deny, grams: Int = 0, requiresShipping: Bool = true,
        taxable: Bool = true, barcode: String = "", imageSrc: String = "", weightUnit: String = ""
    ) {
        self.sku = sku
        self.options = options
        self.priceCents = priceCents
        self.compareAtCents = compareAtCents
        self.stock = stock
        self.inventoryPolicy = inventoryPolicy
        self.grams = grams
        self.requiresShipping = requiresShipping
        self.taxable = taxable
        self.barcode = barcode
        self.imageSrc = imageSrc
        self.weightUnit = weightUnit
    }

    /// Shopify's variant title: the option values joined by " / " ("Default Title" for a product without options).
    public var title: String {
        options.isEmpty ? Product.defaultVariantTitle : options.joined(separator: " / ")
    }

    /// On sale when a higher "compare at" price is set.
    public var isOnSale: Bool {
        if let compareAtCents { return compareAtCents > priceCents }
        return false
    }

    /// Can a shopper buy one now?
    public var isAvailable: Bool {
        stock > 0 || inventoryPolicy == .continue
    }
}

public struct Product: Sendable, Hashable, Codable {
    /// Shopify writes this option value for products that have a single, option-less variant.
    public static let defaultVariantTitle = "Default Title"

    public var handle: String
    public var title: String
    public var bodyHTML: String
    public var vendor: String
    /// Shopify's "Type": the product's collection.
    public var productType: String
    public var tags: [String]
    public var published: Bool
    public var seoTitle: String
    public var seoDescription: String
    /// Names of the options (up to three), e.g. ["Size", "Frame"]; empty for a single default variant.
    public var optionNames: [String]
    public var variants: [Variant]
    public var images: [ProductImage]

    public init(
        handle: String, title: String, bodyHTML: String = "", vendor: String = "", productType: String = "",
        tags: [String] = [], published: Bool = true, seoTitle: String = "", seoDescription: String = "",
        optionNames: [String] = [], variants: [Variant] = [], images: [ProductImage] = []
    ) {
        self.handle = handle
        self.title = title
        self.bodyHTML = bodyHTML
        self.vendor = vendor
        self.productType = productType
        self.tags = tags
        self.published = published
        self.seoTitle = seoTitle
        self.seoDescription = seoDescription
        self.optionNames = optionNames
        self.variants = variants
        self.images = images
    }

    /// The lowest price of any variant: what a listing shows ("from …" when variants differ).
    public var lowestPriceCents: Int? { variants.map(\.priceCents).min() }
    public var hasVaryingPrices: Bool { Set(variants.map(\.priceCents)).count > 1 }
    public var isSoldOut: Bool { !variants.contains(where: \.isAvailable) }
}

/// Handles and slugs: the path segment of a product or page URL, and a file name in public/.
///
/// Shopify allows letters of any script, digits, hyphens and underscores; so do we. Everything
/// else (slashes, dots, spaces, control characters) is refused, so a handle can never climb out
/// of its folder or collide with a file name of another kind.
public enum Handle {
    public static let maxLength = 255

    /// True when `text` is a usable handle as given.
    public static func isValid(_ text: String) -> Bool {
        guard !text.isEmpty, text.utf8.count <= maxLength else { return false }
        // Most handles are ASCII: checked by byte, without Unicode property lookups (a build
        // checks every product's handle, and every tag's slug).
        if text.utf8.allSatisfy({ $0 < 0x80 }) {
            return text.utf8.allSatisfy { byte in
                (0x61...0x7A).contains(byte) || (0x30...0x39).contains(byte) || byte == 0x2D || byte == 0x5F
            }
        }
        for scalar in text.unicodeScalars {
            if scalar == "-" || scalar == "_" { continue }
            let props = scalar.properties
            guard props.isAlphabetic || props.numericType != nil else { return false }
            guard !props.isUppercase else { return false }
        }
        return true
    }

    /// A slug for free text ("Art Print" -> "art-print", "Café Noir!" -> "cafe-noir").
    public static func slug(_ text: String) -> String {
        var out = String.UnicodeScalarView()
        var pendingHyphen = false
        // Decompose so that "é" becomes "e" plus a combining accent, which is then dropped.
        for scalar in text.lowercased().decomposedStringWithCanonicalMapping.unicodeScalars {
            let props = scalar.properties
            if props.generalCategory == .nonspacingMark { continue }
            if props.isAlphabetic || props.numericType != nil {
                if pendingHyphen && !out.isEmpty { out.append("-") }
                pendingHyphen = false
                out.append(scalar)
            } else {
                pendingHyphen = true
            }
        }
        var slug = String(out)
        while slug.utf8.count > maxLength { slug.removeLast() }
        return slug
    }
}
