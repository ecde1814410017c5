import Foundation
import ShopCore
import ShopStore
import SiteBuild
import Testing

@Suite("Collections: one listing per product type and tag, paged")
struct CollectionPagesTests {
    /// `count` published products of type `type`, without tags, whose titles sort in number order.
    static func batch(type: String, count: Int, handlePrefix: String, published: Bool = true) -> [Product] {
        (1...count).map { number -> Product in
            let digits = String(number)
            let padded = String(repeating: "0", count: 3 - digits.count) + digits
            return Product(
                handle: "\(handlePrefix)-\(number)", title: "\(type) #\(padded)", vendor: "Batch Studio",
                productType: type, published: published,
                variants: [Variant(sku: "\(handlePrefix.uppercased())-\(number)", options: [], priceCents: 1000 + number, stock: 3)])
        }
    }

    /// Handles of the product cards on a page, in order.
    static func cardHandles(_ html: String) -> [String] {
        html.components(separatedBy: "<article class=\"card").dropFirst().compactMap { card -> String? in
            guard let start = card.range(of: "data-handle=\"") else { return nil }
            return String(card[start.upperBound...].prefix { $0 != "\"" })
        }
    }

    @Test("pageSize 24: 0, 1, 24, 25 and 49 products make no page, 1, 1, 2 and 3 pages, with previous and next")
    func paginationEdges() async throws {
        let shop = try await ExampleShop.make(importCatalog: false)
        defer { shop.remove() }
        #expect(shop.config.pageSize == 24)
        _ = try await shop.store.upsert(Self.batch(type: "Unlisted", count: 2, handlePrefix: "u", published: false))
        for count in [1, 24, 25, 49] {
            _ = try await shop.store.upsert(Self.batch(type: "Batch \(count)", count: count, handlePrefix: "b\(count)"))
        }
        let report = try await shop.buildOnFixedDate()
        let root = "\(shop.output)/collections"

        // A type only unpublished products have is no collection at all.
        #expect(!fileExists("\(root)/unlisted"))
        #expect(report.collections == 4)

        for (count, pages) in [(1, 1), (24, 1), (25, 2), (49, 3)] {
            let slug = "batch-\(count)"
            #expect(fileExists("\(root)/\(slug)/index.html"), "\(slug): no first page")
            // Page 1 lives at /collections/<slug>/ only: no /page/1/ alias.
            #expect(!fileExists("\(root)/\(slug)/page/1"), "\(slug): a page/1/ was written")
            for number in 2...4 {
                #expect(fileExists("\(root)/\(slug)/page/\(number)/index.html") == (number <= pages),
                        "\(slug): page \(number) should \(number <= pages ? "" : "not ")exist")
            }
            if pages == 1 { #expect(!fileExists("\(root)/\(slug)/page"), "\(slug): one page needs no page/ folder") }

            var seen: [String] = []
            for number in 1...pages {
                let file = number == 1 ? "collections/\(slug)/index.html" : "collections/\(slug)/page/\(number)/index.html"
                let html = try #require(shop.page(file))
                let handles = Self.cardHandles(html)
                #expect(handles.count == min(24, count - (number - 1) * 24), "\(file): \(handles.count) cards")
                seen += handles

                let previous = number == 2 ? "/collections/\(slug)/" : "/collections/\(slug)/page/\(number - 1)/"
                let next = "/collections/\(slug)/page/\(number + 1)/"
                if number > 1 {
                    #expect(html.contains("<a class=\"pagination__step\" rel=\"prev\" href=\"\(previous)\">"), "\(file): no link back")
                    #expect(html.contains("<link rel=\"prev\" href=\"\(previous)\">"))
                } else {
                    #expect(!html.contains("rel=\"prev\""), "\(file): a first page has no previous")
                }
                if number < pages {
                    #expect(html.contains("<a class=\"pagination__step\" rel=\"next\" href=\"\(next)\">"), "\(file): no link on")
                    #expect(html.contains("<link rel=\"next\" href=\"\(next)\">"))
                } else {
                    #expect(!html.contains("rel=\"next\""), "\(file): the last page has no next")
                }
                if pages > 1 {
                    #expect(html.contains("<span aria-current=\"page\">\(number)</span>"))
                    #expect(html.contains("page \(number) of \(pages)"))
                } else {
                    #expect(!html.contains("class=\"pagination\""), "\(file): one page has no pagination")
                }
                #expect(html.contains("<link rel=\"canonical\" href=\"\(shop.config.baseURL.absoluteString)\(String(file.dropLast("index.html".count)))\">"))
            }
            // Every product once, in title order across the pages.
            #expect(seen == (1...count).map { "b\(count)-\($0)" }, "\(slug): products out of order or missing")
        }

        // The collections index lists each with its count; the unpublished type is not there.
        let index = try #require(shop.page("collections/index.html"))
        #expect(index.contains("<a href=\"/collections/batch-49/\"><span dir=\"auto\">Batch 49</span> <span class=\"collection-list__count\">49 products</span></a>"))
        #expect(index.contains("<span class=\"collection-list__count\">1 product</span>"))
        #expect(!index.contains("Unlisted"))

        // The home page shows pageSize of the newest products, not all 99.
        let home = try #require(shop.page("index.html"))
        #expect(Self.cardHandles(home).count == 24)
    }

    @Test("the home page shows the newest products first")
    func homeNewestFirst() async throws {
        let shop = try await ExampleShop.make(importCatalog: false)
        defer { shop.remove() }
        for handle in ["first-added", "second-added", "third-added"] {
            _ = try await shop.store.upsert([Product(
                handle: handle, title: handle, productType: "Print",
                variants: [Variant(sku: handle.uppercased(), options: [], priceCents: 500, stock: 1)])])
        }
        _ = try await shop.buildOnFixedDate()
        let home = try #require(shop.page("index.html"))
        #expect(Self.cardHandles(home) == ["third-added", "second-added", "first-added"])
        // The collection lists them by title instead.
        let collection = try #require(shop.page("collections/print/index.html"))
        #expect(Self.cardHandles(collection) == ["first-added", "second-added", "third-added"])
    }

    @Test("a type and a tag with the same slug are one collection; text that makes no slug makes no collection")
    func typeAndTagMerge() async throws {
        let shop = try await ExampleShop.make(importCatalog: false)
        defer { shop.remove() }
        func product(_ handle: String, type: String, tags: [String]) -> Product {
            Product(handle: handle, title: handle, productType: type, tags: tags,
                    variants: [Variant(sku: handle.uppercased(), options: [], priceCents: 900, stock: 2)])
        }
        _ = try await shop.store.upsert([
            product("by-type", type: "Poster", tags: []),
            product("by-tag", type: "", tags: ["poster"]),
            product("by-both", type: "Poster", tags: ["POSTER", "!!!", "Framed"]),
        ])
        let report = try await shop.buildOnFixedDate()

        let folders = try Set(FileManager.default.contentsOfDirectory(atPath: "\(shop.output)/collections").filter { !$0.hasSuffix(".gz") })
        #expect(folders == ["poster", "framed", "index.html"])
        #expect(report.collections == 2)
        let poster = try #require(shop.page("collections/poster/index.html"))
        #expect(poster.contains("<h1 class=\"collection-header__title\" dir=\"auto\">Poster</h1>"), "the type's spelling is the title")
        #expect(Self.cardHandles(poster) == ["by-both", "by-tag", "by-type"], "each product once, by title")
        #expect(poster.contains("3 products"))

        // Only collections of a product type are in the header; every one is in the index.
        let home = try #require(shop.page("index.html"))
        #expect(home.contains("<li><a href=\"/collections/poster/\" dir=\"auto\">Poster</a></li>"))
        #expect(!home.contains("/collections/framed/"))
        let index = try #require(shop.page("collections/index.html"))
        #expect(index.contains("href=\"/collections/framed/\""))
        #expect(index.contains("href=\"/collections/poster/\""))

        // A product page links its type and its tags to their collections.
        let page = try #require(shop.page("products/by-both/index.html"))
        #expect(page.contains("<a href=\"/collections/poster/\">Poster</a>"))
        #expect(page.contains("<a href=\"/collections/framed/\">Framed</a>"))
        #expect(page.contains("<li class=\"tag\" dir=\"auto\">!!!</li>"), "a tag with no collection is plain text")
    }

    @Test("an empty catalog still has a collections index and no collection pages")
    func emptyCatalog() async throws {
        let shop = try await ExampleShop.make(importCatalog: false)
        defer { shop.remove() }
        let report = try await shop.buildOnFixedDate()
        #expect(report.collections == 0)
        let index = try #require(shop.page("collections/index.html"))
        #expect(index.contains("No collections yet."))
        #expect(try FileManager.default.contentsOfDirectory(atPath: "\(shop.output)/collections").filter { !$0.hasSuffix(".gz") } == ["index.html"])
    }
}
