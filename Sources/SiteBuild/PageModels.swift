import Foundation
import ShopCore
import ShopImages

/// Turns catalog values into the dictionaries templates see. The names here are the theme
/// contract documented in docs/themes.md: change both together.
///
/// Contexts stay lean: a page gets what it shows, and what every page shows alike (the header with
/// its collections, the footer) is rendered once per build and handed over as `fragments`.
struct PageModels {
    let config: SiteConfig
    let prices: PriceFormatter
    let urls: SiteURLs
    let site: TemplateValue
    let assets: TemplateValue
    /// `header` and `footer`, already rendered: ishop's own HTML, set once the theme has rendered them.
    var fragments: TemplateValue = [:]
    /// Catalog image source -> its responsive set, from the image stage (empty with --no-images).
    var imageSets: [String: ImageSet] = [:]
    /// This build's collections by slug, as a breadcrumb shows them (title, first page): a tag
    /// links to a collection only if it is here. Worked out once: looking the collections up
    /// for each product on two workers at once made their shared buffers' reference counts a
    /// tenth of a no-op rebuild's plan.
    var collectionCrumbs: [String: Crumb] = [:]

    /// `sizes` for the pictures of a grid card and of a product page (the default theme's layout).
    static let cardSizes = "(min-width: 60em) 25vw, 50vw"
    static let productSizes = "(min-width: 60em) 50vw, 100vw"

    /// Below this many, a variant shows "Only N left".
    static let lowStockThreshold = 5

    init(config: SiteConfig, navigation: [ContentPage], stylesheet: String, stockScript: String = "", year: Int) {
        self.config = config
        prices = PriceFormatter(currency: config.currency, locale: config.locale)
        urls = SiteURLs(baseURL: config.baseURL)
        var site: [String: TemplateValue] = [
            "title": .text(config.title),
            "baseURL": .text(urls.base),
            "language": .text(config.language),
            "currency": .text(config.currency.code),
            "year": .number(year),
            "nav": .list(navigation.map { ["title": .text($0.title), "url": "/\($0.slug)/"] }),
        ]
        if !config.tagline.isEmpty { site["tagline"] = .text(config.tagline) }
        // Left out when switched off (site.yml `outputs.atomFeed`): the theme links to the feed only while it is written.
        if config.outputs.atomFeed { site["atomFeed"] = .text("/" + AtomFeed.path) }
        self.site = .fields(site)
        var assets: [String: TemplateValue] = ["css": .text(stylesheet)]
        // The live stock script (issue 7), when the theme has one: product and listing pages load it.
        if !stockScript.isEmpty { assets["stockScript"] = .text(stockScript) }
        self.assets = .fields(assets)
    }

    func canonical(_ path: String) -> String {
        urls.page(path)
    }

    func page(title: String, description: String, path: String) -> [String: TemplateValue] {
        var page: [String: TemplateValue] = [
            "title": .text(PlainText.displayable(title)), "canonical": .text(canonical(path)), "path": .text(path),
        ]
        if !description.isEmpty { page["description"] = .text(PlainText.displayable(description)) }
        return page
    }

    func context(page: [String: TemplateValue], extra: [String: TemplateValue] = [:]) -> TemplateValue {
        var context: [String: TemplateValue] = ["site": site, "assets": assets, "page": .fields(page), "fragments": fragments]
        for (key, value) in extra { context[key] = value }
        return .fields(context)
    }

    /// What a product-card template sees: the card, and the site (it is rendered once per build
    /// for every page that lists the product, so nothing of one page is in here).
    func cardContext(_ card: [String: TemplateValue]) -> TemplateValue {
        var context = card
        context["site"] = site
        context["assets"] = assets
        return .fields(context)
    }

    /// What the header and footer templates see: they are rendered once, before any page, so
    /// nothing of a single page is in here.
    func fragmentContext(collections: [TemplateValue]) -> TemplateValue {
        ["site": site, "assets": assets, "collections": .list(collections)]
    }

    static func productPath(_ product: Product) -> String { "/products/\(product.handle)/" }

    func availability(_ variant: Variant) -> String {
        if variant.stock <= 0 { return variant.inventoryPolicy == .continue ? "Available to order" : "Sold out" }
        if variant.stock <= Self.lowStockThreshold { return "Only \(variant.stock) left" }
        return "In stock"
    }

    /// Catalog text as a page may hold it (see `PlainText.displayable`); the template escapes it.
    func text(_ value: String) -> String {
        PlainText.displayable(value)
    }

    /// The same, as a template value.
    func shown(_ value: String) -> TemplateValue {
        .text(PlainText.displayable(value))
    }

    func card(_ product: Product) -> [String: TemplateValue] {
        let lowest = product.lowestPriceCents ?? 0
        let cheapest = product.variants.first { $0.priceCents == lowest }
        var card: [String: TemplateValue] = [
            "handle": shown(product.handle),
            "url": .text(Self.productPath(product)),
            "title": shown(product.title),
            "vendor": shown(product.vendor),
            "price": .text((product.hasVaryingPrices ? "from " : "") + prices.format(lowest)),
            "onSale": .flag(cheapest?.isOnSale ?? false),
            "soldOut": .flag(product.isSoldOut),
            // For live stock on listings: the card is sold out when every one of these is.
            "skus": shown(product.variants.filter { $0.inventoryPolicy == .deny }.map(\.sku).joined(separator: " ")),
        ]
        if let compareAt = cheapest?.compareAtCents, cheapest?.isOnSale == true { card["compareAt"] = .text(prices.format(compareAt)) }
        if let image = product.images.first { card["image"] = .fields(picture(image, product, sizes: Self.cardSizes, eager: false)) }
        return card
    }

    /// What the `picture` partial renders for a catalog image: its set's sizes, srcset, fallback
    /// and placeholder, or (no set: --no-images) the catalog's source and the alt text alone.
    func picture(_ image: ProductImage, _ product: Product, sizes: String, eager: Bool) -> [String: TemplateValue] {
        let alt = altText(image, product)
        guard let set = imageSets[image.src] else {
            return ["src": shown(image.src), "alt": .text(alt), "eager": .flag(eager), "missing": true]
        }
        var data = TemplateValue(any: set.templateData(prefix: "/", sizes: sizes, eager: eager)).fields
        data["alt"] = .text(alt)
        return data
    }

    /// An image's absolute URL for what leaves the site (Open Graph, JSON-LD, feeds): the shop's
    /// own fallback file when the image stage made one, else the catalog's source.
    func imageURL(_ src: String) -> String? {
        if let fallback = imageSets[src]?.fallback { return urls.page("/" + fallback.file) }
        return urls.image(src)
    }

    func altText(_ image: ProductImage, _ product: Product) -> String {
        text(image.alt.isEmpty ? product.title : image.alt)
    }

    /// `text` is the product's body as plain text (`PlainText.fromHTML`), worked out once per page.
    func product(_ product: Product, text plain: String) -> [String: TemplateValue] {
        var model = card(product)
        // Left out when empty: an empty string is true in a Mustache section.
        if !product.productType.isEmpty { model["type"] = shown(product.productType) }
        model["priceAmount"] = .text(Money.decimalText(product.lowestPriceCents ?? 0, currency: config.currency))
        if let slug = ProductCollection.slug(for: product.productType) { model["typeURL"] = "/collections/\(slug)/" }
        model["description"] = shown(plain)
        // Sanitised when it entered the catalog, and again here: whatever wrote the Store, no markup
        // outside the allowlist reaches a page. Plain text (no "<" or "&") needs no parse.
        let body = product.bodyHTML
        // Bytes, not `contains("<")`: Foundation's substring search was 2% of a build.
        let markup = body.utf8.contains { $0 == UInt8(ascii: "<") || $0 == UInt8(ascii: "&") }
        model["bodyHTML"] = shown(markup ? HTMLSanitizer.sanitize(body) : body)
        model["images"] = .list(product.images.enumerated().map { index, image -> TemplateValue in
            // The first picture is the page's largest paint: loaded at once, the rest lazily.
            var entry = picture(image, product, sizes: Self.productSizes, eager: index == 0)
            entry["position"] = .number(image.position)
            entry["first"] = .flag(index == 0)
            return .fields(entry)
        })
        model["optionNames"] = .list(product.optionNames.map { shown($0) })
        model["hasOptions"] = .flag(!product.optionNames.isEmpty)
        model["tags"] = .list(product.tags.map { tag -> TemplateValue in
            var entry: [String: TemplateValue] = ["name": shown(tag)]
            // A tag links to its collection only where there is one (site.yml can switch tag
            // collections off; a type's collection of the same slug still stands).
            if let slug = ProductCollection.slug(for: tag), collectionCrumbs[slug] != nil { entry["url"] = "/collections/\(slug)/" }
            return .fields(entry)
        })
        model["variants"] = .list(product.variants.map { variant -> TemplateValue in
            var entry: [String: TemplateValue] = [
                "sku": shown(variant.sku),
                "title": shown(variant.title),
                "options": shown(variant.options.joined(separator: " / ")),
                "price": .text(prices.format(variant.priceCents)),
                "onSale": .flag(variant.isOnSale),
                "stock": .number(variant.stock),
                "soldOut": .flag(!variant.isAvailable),
                // Sold on backorder: the live stock script keeps it orderable at 0 (stock.js).
                "backorder": .flag(variant.inventoryPolicy == .continue),
                "availability": .text(availability(variant)),
            ]
            if let compareAt = variant.compareAtCents, variant.isOnSale { entry["compareAt"] = .text(prices.format(compareAt)) }
            return .fields(entry)
        })
        return model
    }

    /// A product page's meta description: SEO text if given, else the start of its description.
    func description(of product: Product, text plain: String) -> String {
        if !product.seoDescription.isEmpty { return product.seoDescription }
        let text = PlainText.oneLine(plain)
        return text.count > 160 ? String(text.prefix(157)) + "..." : text
    }

    /// Home / <the product's type collection> / <the product>; the type is left out when the
    /// product has none (or one whose name makes no slug).
    func trail(for product: Product) -> [Crumb] {
        var trail = [Crumb(title: "Home", path: "/")]
        if let slug = ProductCollection.slug(for: product.productType), let crumb = collectionCrumbs[slug] { trail.append(crumb) }
        trail.append(Crumb(title: product.title, path: Self.productPath(product)))
        return trail
    }

    /// The last step is the page itself: `current` is true there and false elsewhere (never left
    /// out, or a section on it would find a `current` further out in the context).
    func breadcrumbs(_ trail: [Crumb]) -> TemplateValue {
        .list(trail.enumerated().map { index, crumb -> TemplateValue in
            ["title": shown(crumb.title), "url": .text(crumb.path), "current": .flag(index == trail.count - 1)]
        })
    }

    /// A collection as a link in a list: navigation, the home page, the collections index.
    func collectionLink(_ collection: ProductCollection) -> [String: TemplateValue] {
        [
            "title": shown(collection.title),
            "url": .text(collection.path(page: 1)),
            "count": .number(collection.count),
            "countText": .text(Self.countText(collection.count)),
        ]
    }

    static func countText(_ count: Int) -> String {
        count == 1 ? "1 product" : "\(count) products"
    }

    /// Page `number` of a collection: the collection with the cards of that page, the pagination
    /// and the breadcrumb trail.
    func collectionPage(_ collection: ProductCollection, page number: Int, cards: [String: TemplateValue]) -> [String: TemplateValue] {
        let total = collection.pageCount(pageSize: config.pageSize)
        var model = collectionLink(collection)
        model["slug"] = .text(collection.slug)
        // By index: copying each product (a few dozen reference counts) for its handle showed in profiles.
        model["products"] = .list(collection.indicesOnPage(number, pageSize: config.pageSize).compactMap { cards[collection.handle($0)] })
        var trail = [Crumb(title: "Home", path: "/"), Crumb(title: "Collections", path: "/collections/"),
                     Crumb(title: collection.title, path: collection.path(page: 1))]
        if number > 1 { trail.append(Crumb(title: "Page \(number)", path: collection.path(page: number))) }
        return [
            "collection": .fields(model),
            "pagination": Self.pagination(current: number, total: total, url: collection.path(page:)),
            "breadcrumbs": breadcrumbs(trail),
        ]
    }

    /// Previous and next, and the numbers to show: the first, the last and two either side of the
    /// current page. Never every page: a collection of 10,000 products would give each of its
    /// 417 pages a list of 417 links. `gapBefore` marks a number that does not follow the one before.
    static func pagination(current: Int, total: Int, url: (Int) -> String) -> TemplateValue {
        var model: [String: TemplateValue] = [
            "current": .number(current),
            "total": .number(total),
            "isPaged": .flag(total > 1),
            "hasPrevious": .flag(current > 1),
            "hasNext": .flag(current < total),
        ]
        if current > 1 { model["previousURL"] = .text(url(current - 1)) }
        if current < total { model["nextURL"] = .text(url(current + 1)) }
        var numbers: Set<Int> = [1, total]
        for number in max(1, current - 2)...min(total, current + 2) { numbers.insert(number) }
        var pages: [TemplateValue] = []
        var previous = 0
        for number in numbers.sorted() {
            pages.append([
                "number": .number(number),
                "url": .text(url(number)),
                "isCurrent": .flag(number == current),
                "gapBefore": .flag(previous > 0 && number > previous + 1),
            ])
            previous = number
        }
        model["pages"] = .list(pages)
        return .fields(model)
    }
}
