import Foundation
import ShopCore
import ShopStore
import SiteBuild
import Testing

/// What the pages themselves hold: JSON-LD, Open Graph, breadcrumbs, and hostile text kept harmless.
@Suite("Pages: structured data, Open Graph, breadcrumbs, hostile text")
struct PageOutputTests {
    /// The JSON-LD documents of a page, parsed by JSONSerialization.
    static func jsonLD(_ html: String) throws -> [[String: Any]] {
        let json = try #require(structuredData(in: html), "the page has no JSON-LD")
        return try #require(try JSONSerialization.jsonObject(with: Data(json.utf8)) as? [[String: Any]])
    }

    static func document(_ documents: [[String: Any]], type: String) throws -> [String: Any] {
        try #require(documents.first { $0["@type"] as? String == type }, "no \(type) in the JSON-LD")
    }

    @Test("a product page's JSON-LD parses: the Product with one Offer per variant, and its BreadcrumbList")
    func productJSONLD() async throws {
        let shop = try await ExampleShop.make()
        defer { shop.remove() }
        _ = try await shop.store.upsert([Product(
            handle: "made-to-order", title: "Made to Order", productType: "Art Print",
            variants: [Variant(sku: "MTO-1", options: [], priceCents: 9900, stock: 0, inventoryPolicy: .continue)])])
        _ = try await shop.buildOnFixedDate()
        let base = shop.config.baseURL.absoluteString

        let html = try #require(shop.page("products/fig-bowl-print/index.html"))
        #expect(foreignScripts(in: html) == 1)
        let documents = try Self.jsonLD(html)
        let product = try Self.document(documents, type: "Product")
        #expect(product["@context"] as? String == "https://schema.org")
        #expect(product["name"] as? String == "Fig in a Red Bowl")
        #expect((product["description"] as? String)?.hasPrefix("A halved fig rests") == true)
        let images = product["image"] as? [String] ?? []
        #expect(images.count == 1)
        #expect(images.allSatisfy { $0.hasPrefix("\(base)img/") && $0.hasSuffix(".jpg") }, "the shop's own copy: \(images)")
        #expect(product["url"] as? String == "\(base)products/fig-bowl-print/")
        #expect((product["brand"] as? [String: Any])?["name"] as? String == "Lumen Prints")
        #expect(product["sku"] == nil, "with six variants, each Offer names its SKU")

        let offers = try #require(product["offers"] as? [[String: Any]])
        #expect(offers.count == 6)
        let a4 = try #require(offers.first { $0["sku"] as? String == "LP-FIG-A4" })
        #expect(a4["@type"] as? String == "Offer")
        #expect(a4["price"] as? String == "24.00")
        #expect(a4["priceCurrency"] as? String == "EUR")
        #expect(a4["availability"] as? String == "https://schema.org/InStock")
        #expect(a4["url"] as? String == "\(base)products/fig-bowl-print/")
        let soldOut = try #require(offers.first { $0["sku"] as? String == "LP-FIG-A2-OAK" })
        #expect(soldOut["price"] as? String == "120.00")
        #expect(soldOut["availability"] as? String == "https://schema.org/OutOfStock")
        #expect(offers.filter { $0["availability"] as? String == "https://schema.org/InStock" }.count == 5)

        let trail = try Self.document(documents, type: "BreadcrumbList")
        let steps = try #require(trail["itemListElement"] as? [[String: Any]])
        #expect(steps.compactMap { $0["name"] as? String } == ["Home", "Art Print", "Fig in a Red Bowl"])
        #expect(steps.compactMap { $0["item"] as? String } == [base, "\(base)collections/art-print/", "\(base)products/fig-bowl-print/"])
        #expect(steps.compactMap { $0["position"] as? Int } == [1, 2, 3])

        let backorder = try Self.document(try Self.jsonLD(try #require(shop.page("products/made-to-order/index.html"))), type: "Product")
        #expect(backorder["sku"] as? String == "MTO-1", "one variant: the Product has its SKU")
        let backorderOffers = try #require(backorder["offers"] as? [[String: Any]])
        #expect(backorderOffers.first?["availability"] as? String == "https://schema.org/BackOrder")
        #expect(backorderOffers.first?["price"] as? String == "99.00")
        #expect(backorder["image"] == nil)

        // The live stock script keeps a backorder variant orderable at 0: the page marks it.
        let backorderPage = try #require(shop.page("products/made-to-order/index.html"))
        #expect(backorderPage.contains(#"<span class="stock" data-sku="MTO-1" data-backorder="true">"#))
        #expect(backorderPage.contains(#"class="button add-to-cart" data-sku="MTO-1" data-backorder="true""#))
        #expect(!(try #require(shop.page("products/fig-bowl-print/index.html"))).contains("data-backorder"))
    }

    @Test("a title holding </script> cannot end the JSON-LD script or open another")
    func scriptInjection() async throws {
        let shop = try await ExampleShop.make(importCatalog: false)
        defer { shop.remove() }
        let hostile = "</script><script>alert(1)</script><!--"
        _ = try await shop.store.upsert([
            Product(handle: "plain", title: "Plain", vendor: "Studio", productType: "Print",
                    variants: [Variant(sku: "PLAIN-1", options: [], priceCents: 100, stock: 1)]),
            Product(handle: "hostile", title: hostile, bodyHTML: "<p>\(hostile)</p>", vendor: hostile, productType: "Print",
                    variants: [Variant(sku: "HOSTILE-</script>", options: [], priceCents: 100, stock: 1)],
                    images: [ProductImage(src: "/images/x.jpg", position: 1, alt: hostile)]),
        ])
        _ = try await shop.buildOnFixedDate()

        let plain = try #require(shop.page("products/plain/index.html"))
        let page = try #require(shop.page("products/hostile/index.html"))
        #expect(foreignScripts(in: page) == foreignScripts(in: plain))
        #expect(foreignScripts(in: page) == 1)
        #expect(foreignScripts(in: page, closing: true) == 1)
        #expect(!page.contains("<!--"))
        let json = try #require(structuredData(in: page))
        #expect(json.contains("\\u003c/script\\u003e"))
        let product = try Self.document(try Self.jsonLD(page), type: "Product")
        #expect(product["name"] as? String == hostile, "escaped for the script element, the same text for a JSON reader")
        #expect((product["offers"] as? [[String: Any]])?.first?["sku"] as? String == "HOSTILE-</script>")

        for file in ["index.html", "collections/print/index.html", "collections/index.html"] {
            let html = try #require(shop.page(file))
            #expect(foreignScripts(in: html) == 0, "\(file) has a script element")
        }
    }

    @Test("bidi overrides, quotes and a 10,000-character title are escaped and isolated, and the page stays whole")
    func hostileText() async throws {
        let shop = try await ExampleShop.make(importCatalog: false)
        defer { shop.remove() }
        let start = "\u{202E}Reversed \"double\" 'single' <b>bold</b> & "
        let title = start + String(repeating: "W", count: 10_000 - start.count)
        #expect(title.count == 10_000)
        let vendor = "\u{202E}Studio \u{202D}\"Quote\""
        _ = try await shop.store.upsert([Product(
            handle: "long-title", title: title, bodyHTML: String(repeating: "A long description. ", count: 200),
            vendor: vendor, productType: "\u{202E}Kind", tags: ["\u{202E}tag"],
            variants: [Variant(sku: "LONG-1", options: [], priceCents: 2500, stock: 2)])])
        _ = try await shop.buildOnFixedDate()
        let escaped = htmlEscaped(title)

        let page = try #require(shop.page("products/long-title/index.html"))
        #expect(page.hasSuffix("</body>\n</html>\n"))
        #expect(page.contains("<h1 class=\"product__title\" dir=\"auto\">\(escaped)</h1>"))
        #expect(page.contains("<title>\(escaped) · Lumen Prints</title>"))
        #expect(page.contains("<meta property=\"og:title\" content=\"\(escaped)\">"))
        #expect(page.contains("<li aria-current=\"page\" dir=\"auto\">\(escaped)</li>"))
        #expect(page.contains("<p class=\"product__vendor\" dir=\"auto\">\(htmlEscaped(vendor))</p>"))
        #expect(!page.contains("<b>bold</b>"))
        #expect(!page.contains("\"double\""), "quotes are escaped everywhere in HTML")
        #expect(foreignScripts(in: page) == 1)
        // The meta description is cut, never the whole title.
        let description = try #require(page.range(of: "<meta name=\"description\" content=\""))
        #expect(page[description.upperBound...].prefix(while: { $0 != "\"" }).count < 1000)

        let home = try #require(shop.page("index.html"))
        #expect(home.contains("<h2 class=\"card__title\" dir=\"auto\">\(escaped)</h2>"))
        #expect(home.hasSuffix("</body>\n</html>\n"))
        let collection = try #require(shop.page("collections/kind/index.html"))
        #expect(collection.contains("<h1 class=\"collection-header__title\" dir=\"auto\">\u{202E}Kind</h1>"))
        #expect(home.contains("<li><a href=\"/collections/kind/\" dir=\"auto\">\u{202E}Kind</a></li>"), "the header isolates collection titles")
    }

    @Test("control characters in catalog text do not reach a page")
    func controlCharacters() async throws {
        let shop = try await ExampleShop.make(importCatalog: false)
        defer { shop.remove() }
        _ = try await shop.store.upsert([Product(
            handle: "controls", title: "Bell\u{07}Title\u{FFFF}", vendor: "Esc\u{1B}ape", productType: "Print",
            variants: [Variant(sku: "CTRL-1", options: [], priceCents: 100, stock: 1)])])
        _ = try await shop.buildOnFixedDate()
        for file in ["products/controls/index.html", "index.html", "collections/print/index.html"] {
            let html = try #require(shop.page(file))
            #expect(!html.unicodeScalars.contains { $0.value < 0x20 && $0 != "\n" && $0 != "\t" }, "\(file) holds a control character")
            #expect(!html.unicodeScalars.contains { $0.value == 0xFFFF }, "\(file) holds a noncharacter")
            #expect(html.contains("BellTitle"), "\(file) lost the title")
        }
    }

    @Test("golden fragments: the product page, a collection and the home page of the example shop")
    func goldenFragments() async throws {
        let shop = try await ExampleShop.make()
        defer { shop.remove() }
        _ = try await shop.buildOnFixedDate()
        let base = shop.config.baseURL.absoluteString
        let prices = PriceFormatter(currency: shop.config.currency, locale: shop.config.locale)

        // A product: its SEO title names the page; the trail runs through its type's collection.
        let fig = try #require(shop.page("products/fig-bowl-print/index.html"))
        #expect(fig.contains("<title>Fig in a Red Bowl – still-life art print · Lumen Prints</title>"))
        #expect(fig.contains("<link rel=\"canonical\" href=\"\(base)products/fig-bowl-print/\">"))
        try expectInOrder(fig, [
            "<nav class=\"breadcrumb\" aria-label=\"Breadcrumb\">",
            "<li><a href=\"/\" dir=\"auto\">Home</a></li>",
            "<li><a href=\"/collections/art-print/\" dir=\"auto\">Art Print</a></li>",
            "<li aria-current=\"page\" dir=\"auto\">Fig in a Red Bowl</li>",
            "</nav>",
        ])
        #expect(fig.contains("<span class=\"price__now\">from \(prices.format(2400))</span>"))
        #expect(fig.contains("<meta property=\"og:type\" content=\"product\">"))
        #expect(fig.contains("<meta property=\"og:url\" content=\"\(base)products/fig-bowl-print/\">"))
        #expect(fig.contains("<meta property=\"og:image\" content=\"\(base)img/"))
        #expect(fig.contains("<picture>") && fig.contains("<source type=\"image/webp\" srcset=\"/img/"))
        #expect(fig.contains("loading=\"eager\" fetchpriority=\"high\""), "the first picture of a product page loads at once")
        #expect(fig.contains("<meta name=\"twitter:card\" content=\"summary_large_image\">"))
        #expect(fig.contains("<meta property=\"product:price:amount\" content=\"24.00\">"))
        #expect(fig.contains("<meta property=\"product:price:currency\" content=\"EUR\">"))
        #expect(fig.contains("<a href=\"/collections/still-life/\">Still Life</a>"))
        #expect(fig.contains("&copy; 2023 Lumen Prints"), "the footer's year is the build's")

        // A collection: its products by title.
        let prints = try #require(shop.page("collections/art-print/index.html"))
        #expect(prints.contains("<title>Art Print · Lumen Prints</title>"))
        #expect(prints.contains("<link rel=\"canonical\" href=\"\(base)collections/art-print/\">"))
        #expect(prints.contains("<meta property=\"og:type\" content=\"website\">"))
        try expectInOrder(prints, [
            "<li><a href=\"/\" dir=\"auto\">Home</a></li>",
            "<li><a href=\"/collections/\" dir=\"auto\">Collections</a></li>",
            "<li aria-current=\"page\" dir=\"auto\">Art Print</li>",
            "<h1 class=\"collection-header__title\" dir=\"auto\">Art Print</h1>",
            "<p class=\"collection-header__count\">4 products</p>",
            "data-handle=\"autumn-meadow-print\"",
            "data-handle=\"bird-lamp-print\"",
            "data-handle=\"fig-bowl-print\"",
            "data-handle=\"wine-still-life-print\"",
        ])
        #expect(prints.contains("<span class=\"price__now\">from \(prices.format(1950))</span>"))
        #expect(!prints.contains("data-handle=\"dandelion-meadow-poster\""))
        #expect(!prints.contains("class=\"pagination\""))

        // Home: the site's title, the collections of a type in the header, no JSON-LD.
        let home = try #require(shop.page("index.html"))
        #expect(home.contains("<title>Lumen Prints</title>"))
        #expect(home.contains("<link rel=\"canonical\" href=\"\(base)\">"))
        #expect(home.contains("<meta property=\"og:type\" content=\"website\">"))
        #expect(home.contains("<meta name=\"twitter:card\" content=\"summary\">"))
        try expectInOrder(home, [
            "<nav class=\"collection-nav\" aria-label=\"Collections\">",
            "<li><a href=\"/collections/art-print/\" dir=\"auto\">Art Print</a></li>",
            "<li><a href=\"/collections/poster/\" dir=\"auto\">Poster</a></li>",
            "<li><a href=\"/collections/\">All collections</a></li>",
        ])
        #expect(home.contains("<a href=\"/collections/poster/\"><span dir=\"auto\">Poster</span> <span class=\"collection-list__count\">1 product</span></a>"))
        #expect(!home.contains("/collections/still-life/"), "tags are listed at /collections/, not on every page")
        #expect(foreignScripts(in: home) == 0)

        // The header and footer are the same bytes on every page: rendered once.
        let header = try #require(fragment(of: home, from: "<header class=\"site-header\">", to: "</header>"))
        for page in [fig, prints] { #expect(fragment(of: page, from: "<header class=\"site-header\">", to: "</header>") == header) }

        let index = try #require(shop.page("collections/index.html"))
        #expect(index.contains("<title>Collections · Lumen Prints</title>"))
        #expect(index.contains("<a href=\"/collections/still-life/\"><span dir=\"auto\">Still Life</span> <span class=\"collection-list__count\">2 products</span></a>"))
    }

    /// Records an issue unless every fragment is in `html`, each after the one before.
    func expectInOrder(_ html: String, _ fragments: [String], sourceLocation: SourceLocation = #_sourceLocation) throws {
        var rest = html[...]
        for fragment in fragments {
            let found = try #require(rest.range(of: fragment), "missing, or out of order: \(fragment)", sourceLocation: sourceLocation)
            rest = rest[found.upperBound...]
        }
    }

    func fragment(of html: String, from start: String, to end: String) -> String? {
        guard let opening = html.range(of: start),
              let closing = html.range(of: end, range: opening.upperBound..<html.endIndex)
        else { return nil }
        return String(html[opening.lowerBound..<closing.upperBound])
    }
}
