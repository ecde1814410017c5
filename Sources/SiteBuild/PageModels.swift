import Foundation
import ShopCore

/// Turns catalog values into the dictionaries templates see. The names here are the theme
/// contract documented in docs/themes.md: change both together.
struct PageModels {
    let config: SiteConfig
    let prices: PriceFormatter
    let site: [String: Any]
    let assets: [String: Any]

    /// Below this many, a variant shows "Only N left".
    static let lowStockThreshold = 5

    init(config: SiteConfig, navigation: [ContentPage], stylesheet: String) {
        self.config = config
        prices = PriceFormatter(currency: config.currency, locale: config.locale)
        var site: [String: Any] = [
            "title": config.title,
            "baseURL": config.baseURL.absoluteString,
            "language": config.language,
            "currency": config.currency.code,
            "year": Calendar(identifier: .gregorian).component(.year, from: Date()),
            "nav": navigation.map { ["title": $0.title, "url": "/\($0.slug)/"] },
        ]
        if !config.tagline.isEmpty { site["tagline"] = config.tagline }
        self.site = site
        assets = ["css": stylesheet]
    }

    func canonical(_ path: String) -> String {
        config.baseURL.absoluteString + path.drop(while: { $0 == "/" })
    }

    func page(title: String, description: String, path: String) -> [String: Any] {
        var page: [String: Any] = ["title": title, "canonical": canonical(path), "path": path]
        if !description.isEmpty { page["description"] = description }
        return page
    }

    func context(page: [String: Any], extra: [String: Any] = [:]) -> [String: Any] {
        var context: [String: Any] = ["site": site, "assets": assets, "page": page]
        for (key, value) in extra { context[key] = value }
        return context
    }

    static func productPath(_ product: Product) -> String { "/products/\(product.handle)/" }

    func availability(_ variant: Variant) -> String {
        if variant.stock <= 0 { return variant.inventoryPolicy == .continue ? "Available to order" : "Sold out" }
        if variant.stock <= Self.lowStockThreshold { return "Only \(variant.stock) left" }
        return "In stock"
    }

    func card(_ product: Product) -> [String: Any] {
        let lowest = product.lowestPriceCents ?? 0
        let cheapest = product.variants.first { $0.priceCents == lowest }
        var card: [String: Any] = [
            "handle": product.handle,
            "url": Self.productPath(product),
            "title": product.title,
            "vendor": product.vendor,
            "price": (product.hasVaryingPrices ? "from " : "") + prices.format(lowest),
            "onSale": cheapest?.isOnSale ?? false,
            "soldOut": product.isSoldOut,
        ]
        if let compareAt = cheapest?.compareAtCents, cheapest?.isOnSale == true { card["compareAt"] = prices.format(compareAt) }
        if let image = product.images.first { card["image"] = ["src": image.src, "alt": altText(image, product)] }
        return card
    }

    func altText(_ image: ProductImage, _ product: Product) -> String {
        image.alt.isEmpty ? product.title : image.alt
    }

    func product(_ product: Product) -> [String: Any] {
        var model = card(product)
        model["type"] = product.productType
        model["description"] = PlainText.fromHTML(product.bodyHTML)
        // Sanitised when it entered the catalog, and again here: whatever wrote the Store, no markup
        // outside the allowlist reaches a page. Plain text (no "<" or "&") needs no parse.
        let body = product.bodyHTML
        model["bodyHTML"] = body.contains("<") || body.contains("&") ? HTMLSanitizer.sanitize(body) : body
        model["images"] = product.images.enumerated().map { index, image -> [String: Any] in
            ["src": image.src, "alt": altText(image, product), "position": image.position, "first": index == 0]
        }
        model["optionNames"] = product.optionNames
        model["hasOptions"] = !product.optionNames.isEmpty
        model["tags"] = product.tags.map { ["name": $0] }
        model["variants"] = product.variants.map { variant -> [String: Any] in
            var entry: [String: Any] = [
                "sku": variant.sku,
                "title": variant.title,
                "options": variant.options.joined(separator: " / "),
                "price": prices.format(variant.priceCents),
                "onSale": variant.isOnSale,
                "stock": variant.stock,
                "soldOut": !variant.isAvailable,
                "availability": availability(variant),
            ]
            if let compareAt = variant.compareAtCents, variant.isOnSale { entry["compareAt"] = prices.format(compareAt) }
            return entry
        }
        return model
    }

    /// A product page's meta description: SEO text if given, else the start of its description.
    func description(of product: Product) -> String {
        if !product.seoDescription.isEmpty { return product.seoDescription }
        let text = PlainText.fromHTML(product.bodyHTML).replacingOccurrences(of: "\n", with: " ")
        return text.count > 160 ? String(text.prefix(157)) + "..." : text
    }
}
