import Foundation
import ShopCore
import ShopImport
import ShopStore
import SiteBuild
import Testing

/// The files a build writes for machines: sitemap, robots.txt, Atom feed, Merchant Center feed,
/// search index. Each is parsed with Foundation's own parsers, not searched as text.
@Suite("Sitemap, robots.txt, feeds and the search index")
struct MachineOutputTests {
    /// Every HTML page written but the 404 page, as the relative file ("products/x/index.html").
    static func indexablePages(_ shop: ExampleShop) -> Set<String> {
        regularFiles(under: shop.output).filter { $0.hasSuffix(".html") && $0 != "404.html" }
    }

    static func read(_ shop: ExampleShop, _ file: String) throws -> ParsedElement {
        let text = try #require(shop.page(file), "\(file) was not written")
        return try XMLTreeReader.read(text).get()
    }

    @Test("sitemap.xml parses and lists every HTML page written, each with the build's day")
    func sitemap() async throws {
        let shop = try await ExampleShop.make()
        defer { shop.remove() }
        // A handle with a letter outside ASCII: the sitemap must percent-encode it.
        _ = try await shop.store.upsert([Product(
            handle: "café-noir", title: "Café Noir", productType: "Art Print",
            variants: [Variant(sku: "CAFE-1", options: [], priceCents: 1250, stock: 4)])])
        let report = try await shop.buildOnFixedDate()

        let base = shop.config.baseURL.absoluteString
        let sitemap = try Self.read(shop, "sitemap.xml")
        #expect(sitemap.name == "urlset")
        #expect(sitemap.attributes["xmlns"] == "http://www.sitemaps.org/schemas/sitemap/0.9")
        let entries = sitemap.elements(named: "url")
        let locations = entries.compactMap { $0.value(of: "loc") }
        #expect(locations.count == entries.count)
        #expect(Set(entries.compactMap { $0.value(of: "lastmod") }) == ["2023-11-14"])
        #expect(Set(locations).count == locations.count, "a URL is listed twice")
        #expect(locations.contains("\(base)products/caf%C3%A9-noir/"))
        #expect(!locations.contains { $0.contains("é") }, "URLs in a sitemap are percent-encoded")

        let listed = Set(locations.compactMap { outputFile(forURL: $0, base: base) })
        let written = Self.indexablePages(shop)
        #expect(listed == written, "listed but not written: \(listed.subtracting(written)); written but not listed: \(written.subtracting(listed))")
        #expect(written.contains("index.html"))
        #expect(written.contains("collections/index.html"))
        #expect(written.contains("collections/art-print/index.html"))
        #expect(written.contains("shipping/index.html"))
        #expect(listed.count == report.pagesWritten - 1, "every page but 404.html")

        #expect(shop.page("robots.txt") == "User-agent: *\nAllow: /\nSitemap: \(base)sitemap.xml\n")
    }

    @Test("past the limit, the URLs go into sitemap-N.xml files and sitemap.xml is their index")
    func sitemapIndex() async throws {
        let shop = try await ExampleShop.make()
        defer { shop.remove() }
        _ = try await shop.buildOnFixedDate(sitemapLimit: 5)
        let base = shop.config.baseURL.absoluteString
        let written = Self.indexablePages(shop)
        let expectedParts = (written.count + 4) / 5
        #expect(expectedParts >= 3)

        let index = try Self.read(shop, "sitemap.xml")
        #expect(index.name == "sitemapindex")
        let parts = index.elements(named: "sitemap")
        #expect(parts.compactMap { $0.value(of: "loc") } == (1...expectedParts).map { "\(base)sitemap-\($0).xml" })
        #expect(parts.allSatisfy { $0.value(of: "lastmod") == "2023-11-14" })

        var listed: [String] = []
        for number in 1...expectedParts {
            let part = try Self.read(shop, "sitemap-\(number).xml")
            #expect(part.name == "urlset")
            let urls = part.elements(named: "url")
            #expect(urls.count == (number < expectedParts ? 5 : written.count - 5 * (expectedParts - 1)))
            listed += urls.compactMap { $0.value(of: "loc") }
        }
        #expect(!fileExists("\(shop.output)/sitemap-\(expectedParts + 1).xml"))
        #expect(listed.count == written.count)
        #expect(Set(listed.compactMap { outputFile(forURL: $0, base: base) }) == written)
        #expect(shop.page("robots.txt")?.contains("Sitemap: \(base)sitemap.xml\n") == true)
    }

    @Test("feed.xml is Atom 1.0 with the newest products first, each linked by its absolute URL")
    func atomFeed() async throws {
        let shop = try await ExampleShop.make()
        defer { shop.remove() }
        // 5 published in the example, plus 18: the feed keeps the newest 20.
        _ = try await shop.store.upsert((1...18).map { number in
            Product(handle: "extra-\(number)", title: "Extra \(number)", bodyHTML: "<p>Extra <em>print</em> \(number)</p>",
                    variants: [Variant(sku: "EXTRA-\(number)", options: [], priceCents: 100, stock: 1)])
        })
        _ = try await shop.buildOnFixedDate()
        let base = shop.config.baseURL.absoluteString
        let catalog = try await shop.store.catalog(includeUnpublished: false)
        #expect(catalog.count == 23)

        let feed = try Self.read(shop, "feed.xml")
        #expect(feed.name == "feed")
        #expect(feed.attributes["xmlns"] == "http://www.w3.org/2005/Atom")
        #expect(feed.value(of: "title") == shop.config.title)
        #expect(feed.value(of: "id") == base)
        #expect(feed.value(of: "updated") == "2023-11-14T00:00:00Z")
        #expect(feed.element(named: "author")?.value(of: "name") == shop.config.title)
        let links = feed.elements(named: "link")
        #expect(links.contains { $0.attributes["rel"] == "self" && $0.attributes["href"] == "\(base)feed.xml" })

        let entries = feed.elements(named: "entry")
        #expect(entries.count == 20)
        let expected = catalog.suffix(20).reversed().map { "\(base)products/\($0.handle)/" }
        #expect(entries.compactMap { $0.value(of: "id") } == expected)
        for entry in entries {
            let id = try #require(entry.value(of: "id"))
            #expect(entry.element(named: "link")?.attributes["href"] == id)
            #expect(entry.value(of: "updated") == "2023-11-14T00:00:00Z")
            #expect(entry.value(of: "title")?.isEmpty == false)
        }
        let newest = try #require(entries.first)
        #expect(newest.value(of: "summary") == "Extra print 18", "the summary is the description as plain text")
        #expect(!entries.contains { $0.value(of: "id")?.contains("sunset-hills-print") == true })

        // Every page says where the feed is.
        let home = try #require(shop.page("index.html"))
        #expect(home.contains("<link rel=\"alternate\" type=\"application/atom+xml\" title=\"Lumen Prints: new products\" href=\"/feed.xml\">"))
    }

    @Test("merchant-feed.xml of a catalog of many windows of items: catalog order, and the same bytes on one core and on four")
    func merchantFeedInWindows() async throws {
        var feeds: [String] = []
        var order: [String] = []
        for jobs in [1, 4] {
            let shop = try await ExampleShop.make()
            defer { shop.remove() }
            _ = try await shop.store.upsert((0..<600).map { number in
                Product(handle: "bulk-\(number)", title: "Bulk \(number)", productType: "Art Print",
                        variants: [Variant(sku: "BULK-\(number)", options: [], priceCents: 100 + number, stock: 1)])
            })
            _ = try await shop.buildOnFixedDate(jobs: jobs)
            feeds.append(try #require(shop.page("merchant-feed.xml")))
            order = try await shop.store.catalog(includeUnpublished: false).flatMap { $0.variants.map(\.sku) }
        }
        #expect(feeds[0] == feeds[1], "the same feed whatever the number of workers")
        let rss = try XMLTreeReader.read(feeds[1]).get()
        let ids = try #require(rss.element(named: "channel")).elements(named: "item").compactMap { $0.value(of: "g:id") }
        #expect(ids.count == order.count)
        #expect(ids == order, "items in catalog order")
    }

    @Test("merchant-feed.xml has one item per variant of the published products, with Google's fields")
    func merchantFeed() async throws {
        let shop = try await ExampleShop.make()
        defer { shop.remove() }
        _ = try await shop.buildOnFixedDate()
        let base = shop.config.baseURL.absoluteString
        let catalog = try await shop.store.catalog(includeUnpublished: false)

        let rss = try Self.read(shop, "merchant-feed.xml")
        #expect(rss.name == "rss")
        #expect(rss.attributes["version"] == "2.0")
        #expect(rss.attributes["xmlns:g"] == "http://base.google.com/ns/1.0")
        let channel = try #require(rss.element(named: "channel"))
        #expect(channel.value(of: "link") == base)
        let items = channel.elements(named: "item")
        #expect(items.count == catalog.reduce(0) { $0 + $1.variants.count })
        #expect(items.count == 21)
        #expect(Set(items.compactMap { $0.value(of: "g:id") }) == Set(catalog.flatMap { $0.variants.map(\.sku) }))
        #expect(!items.contains { $0.value(of: "g:id")?.hasPrefix("LP-SUN") == true }, "an unpublished product's variants are left out")

        func item(_ sku: String) throws -> ParsedElement {
            try #require(items.first { $0.value(of: "g:id") == sku }, "no item for \(sku)")
        }
        let figA4 = try item("LP-FIG-A4")
        #expect(figA4.value(of: "g:price") == "24.00 EUR")
        #expect(figA4.element(named: "g:sale_price") == nil)
        #expect(figA4.value(of: "g:item_group_id") == "fig-bowl-print")
        #expect(figA4.value(of: "title") == "Fig in a Red Bowl – A4 / No frame")
        #expect(figA4.value(of: "link") == "\(base)products/fig-bowl-print/")
        // The shop's own JPEG of the picture (the image stage's fallback), not the catalog's source.
        let imageLink = figA4.value(of: "g:image_link") ?? ""
        #expect(imageLink.hasPrefix("\(base)img/") && imageLink.hasSuffix(".jpg"), "\(imageLink)")
        #expect(fileExists("\(shop.output)/\(imageLink.dropFirst(base.count))"))
        #expect(figA4.value(of: "g:availability") == "in_stock")
        #expect(figA4.value(of: "g:brand") == "Lumen Prints")
        #expect(figA4.value(of: "g:condition") == "new")
        #expect(figA4.value(of: "g:product_type") == "Art Print")
        let description = try #require(figA4.value(of: "description"))
        #expect(description.hasPrefix("A halved fig rests"))

        // CSV text "120" is 120.00; stock 0 under "deny" is out of stock.
        let figA2Oak = try item("LP-FIG-A2-OAK")
        #expect(figA2Oak.value(of: "g:price") == "120.00 EUR")
        #expect(figA2Oak.value(of: "g:availability") == "out_of_stock")

        // On sale: the price before the sale in g:price, what is paid in g:sale_price.
        let wineA4 = try item("LP-WINE-A4")
        #expect(wineA4.value(of: "g:price") == "26.00 EUR")
        #expect(wineA4.value(of: "g:sale_price") == "19.50 EUR")
        #expect(wineA4.value(of: "description")?.contains("<") == false, "the description is plain text")

        for element in items {
            #expect(element.value(of: "description")?.isEmpty == false, "Google requires a description")
            #expect(element.value(of: "g:price")?.hasSuffix(" EUR") == true)
        }
    }

    @Test("search-index.json has one entry per published product, with sorted keys")
    func searchIndex() async throws {
        let shop = try await ExampleShop.make()
        defer { shop.remove() }
        _ = try await shop.store.upsert([Product(
            handle: "no-picture", title: "No Picture", vendor: "Studio", productType: "Card", tags: ["Paper"],
            variants: [Variant(sku: "NOPIC-1", options: [], priceCents: 350, stock: 2)])])
        _ = try await shop.buildOnFixedDate()
        let facts = try ExampleCatalogFacts.load()
        let prices = PriceFormatter(currency: shop.config.currency, locale: shop.config.locale)

        let text = try #require(shop.page("search-index.json"))
        let entries = try #require(try JSONSerialization.jsonObject(with: Data(text.utf8)) as? [[String: Any]])
        #expect(entries.count == facts.publishedHandles.count + 1)
        #expect(Set(entries.compactMap { $0["handle"] as? String }) == facts.publishedHandles.union(["no-picture"]))

        let fig = try #require(entries.first { $0["handle"] as? String == "fig-bowl-print" })
        #expect(fig["url"] as? String == "/products/fig-bowl-print/")
        #expect(fig["title"] as? String == "Fig in a Red Bowl")
        #expect(fig["vendor"] as? String == "Lumen Prints")
        #expect(fig["type"] as? String == "Art Print")
        #expect(fig["tags"] as? [String] == ["Still Life", "Food", "Red"])
        #expect(fig["price"] as? String == "from " + prices.format(2400))
        #expect(fig["priceCents"] as? Int == 2400)
        #expect(fig["image"] as? String == "/images/products/fig-bowl.jpg")

        let plain = try #require(entries.first { $0["handle"] as? String == "no-picture" })
        #expect(plain["image"] == nil, "no image: the key is left out")
        #expect(plain["price"] as? String == prices.format(350))

        // Sorted keys: the same catalog gives the same bytes.
        #expect(text.hasPrefix("[{\"handle\":"))
    }

    @Test("hostile catalog text keeps every XML and JSON file well-formed")
    func hostileText() async throws {
        let shop = try await ExampleShop.make(importCatalog: false)
        defer { shop.remove() }
        let title = "Bad\u{01}\u{0B} <title> & \"quotes\" 'single' ]]> \u{FFFF}\u{FFFE}end"
        _ = try await shop.store.upsert([Product(
            handle: "hostile", title: title, bodyHTML: "<p>Body\u{02} with <b>&amp;</b> </summary></entry></p>",
            vendor: "Vendor & <Co>\u{1F}", productType: "Type\u{0C}<x>", tags: ["<tag>\u{07}"],
            variants: [
                Variant(sku: "HOSTILE-<1>&", options: [], priceCents: 1000, stock: 0, inventoryPolicy: .continue),
            ],
            images: [ProductImage(src: "/images/a picture & more.jpg", position: 1)])])
        _ = try await shop.buildOnFixedDate()

        for file in ["sitemap.xml", "feed.xml", "merchant-feed.xml"] {
            let text = try #require(shop.page(file))
            if case .failure(let problem) = XMLTreeReader.read(text) {
                Issue.record("\(file) does not parse: \(problem)")
            }
        }
        let rss = try Self.read(shop, "merchant-feed.xml")
        let item = try #require(rss.element(named: "channel")?.element(named: "item"))
        #expect(item.value(of: "title") == "Bad <title> & \"quotes\" 'single' ]]> end", "controls and noncharacters are dropped")
        #expect(item.value(of: "g:id") == "HOSTILE-<1>&")
        #expect(item.value(of: "g:availability") == "backorder")
        #expect(item.value(of: "g:image_link") == "\(shop.config.baseURL.absoluteString)images/a%20picture%20&%20more.jpg")

        let search = try #require(shop.page("search-index.json"))
        let searchEntries = try JSONSerialization.jsonObject(with: Data(search.utf8)) as? [Any]
        #expect(searchEntries?.count == 1)
    }
}
