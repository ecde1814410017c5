import Foundation
import ShopCore
@testable import SiteBuild
import Testing

/// site.yml's `outputs:` switches off what a shop does without (tag collections, the Atom and
/// Merchant Center feeds, the search index): their files go, and no page links to them.
@Suite("Optional outputs")
struct OptionalOutputsTests {
    static var allOff: SiteConfig.Outputs {
        var outputs = SiteConfig.Outputs()
        outputs.tagCollections = false
        outputs.atomFeed = false
        outputs.merchantFeed = false
        outputs.searchIndex = false
        return outputs
    }

    /// Every HTML file of a published site, by its path relative to the site.
    static func htmlFiles(_ root: String) -> [String] {
        let walker = FileManager.default.enumerator(atPath: root)
        var found: [String] = []
        while let relative = walker?.nextObject() as? String {
            if relative.hasSuffix(".html") { found.append(relative) }
        }
        return found.sorted()
    }

    /// Every root-relative href of `html` that points into /collections/.
    static func collectionLinks(_ html: String) -> [String] {
        html.components(separatedBy: "href=\"/collections/").dropFirst().compactMap { rest in
            rest.split(separator: "\"", maxSplits: 1, omittingEmptySubsequences: false).first.map { "/collections/" + $0 }
        }
    }

    @Test("Switched off, tag collections, feeds and the search index are not written and nothing links to them; switched on again, they are back")
    func switchedOffAndOnAgain() async throws {
        let shop = try await ExampleShop.make()
        defer { shop.remove() }
        let catalog = try await shop.store.catalog(includeUnpublished: false)
        let typeSlugs = Set(catalog.compactMap { ProductCollection.slug(for: $0.productType) })
        let tagOnly = Set(catalog.flatMap(\.tags).compactMap(ProductCollection.slug(for:))).subtracting(typeSlugs)
        let tagged = try #require(catalog.first { product in product.tags.contains { tag in ProductCollection.slug(for: tag).map(tagOnly.contains) ?? false } })
        let tagSlug = try #require(tagged.tags.compactMap(ProductCollection.slug(for:)).first(where: tagOnly.contains))
        let optionalFiles = ["feed.xml", "merchant-feed.xml", "search-index.json", "collections/\(tagSlug)/index.html"]

        _ = try await shop.buildOnFixedDate()
        for file in optionalFiles { #expect(shop.page(file) != nil, "\(file) is written by default") }
        #expect(try #require(shop.page("index.html")).contains("href=\"/feed.xml\""))
        #expect(try #require(shop.page("products/\(tagged.handle)/index.html")).contains("href=\"/collections/\(tagSlug)/\""))

        let off = try await shop.buildOnFixedDate(outputs: Self.allOff)
        #expect(off.outputsRemoved >= optionalFiles.count)
        for file in optionalFiles { #expect(shop.page(file) == nil, "\(file) is gone") }
        for slug in tagOnly { #expect(!fileExists("\(shop.output)/collections/\(slug)"), "no folder left for the tag collection \(slug)") }
        for slug in typeSlugs { #expect(shop.page("collections/\(slug)/index.html") != nil, "the type collection \(slug) stays") }

        // No page links to what is not there: not the feed, not a tag collection.
        let pages = Self.htmlFiles(shop.output)
        #expect(pages.count > catalog.count)
        for relative in pages {
            let html = try #require(shop.page(relative))
            #expect(!html.contains("feed.xml"), "\(relative) still links to the Atom feed")
            for link in Self.collectionLinks(html) {
                #expect(fileExists("\(shop.output)\(link)index.html"), "\(relative) links to \(link), which was not written")
            }
        }
        // The tag is still shown on its product's page, as text.
        let productPage = try #require(shop.page("products/\(tagged.handle)/index.html"))
        #expect(productPage.contains("class=\"tag\""))
        #expect(!productPage.contains("href=\"/collections/\(tagSlug)/\""))

        let sitemap = try #require(shop.page("sitemap.xml"))
        #expect(!sitemap.contains("/collections/\(tagSlug)/"))
        #expect(sitemap.contains("/products/\(tagged.handle)/"))

        _ = try await shop.buildOnFixedDate()
        for file in optionalFiles { #expect(shop.page(file) != nil, "\(file) is written again") }
        #expect(try #require(shop.page("index.html")).contains("href=\"/feed.xml\""))
        #expect(try #require(shop.page("products/\(tagged.handle)/index.html")).contains("href=\"/collections/\(tagSlug)/\""))
    }

    @Test("A tag that is also a product type keeps its link when tag collections are off")
    func tagSharingATypeSlug() async throws {
        let shop = try await ExampleShop.make()
        defer { shop.remove() }
        var products = try await shop.store.catalog(includeUnpublished: true)
        let typed = try #require(products.firstIndex { ProductCollection.slug(for: $0.productType) != nil })
        let otherType = try #require(products.first { ProductCollection.slug(for: $0.productType) != ProductCollection.slug(for: products[typed].productType) }?.productType)
        let otherSlug = try #require(ProductCollection.slug(for: otherType))
        products[typed].tags.append(otherType)
        _ = try await shop.store.upsert([products[typed]])

        var outputs = SiteConfig.Outputs()
        outputs.tagCollections = false
        _ = try await shop.buildOnFixedDate(outputs: outputs)
        let page = try #require(shop.page("products/\(products[typed].handle)/index.html"))
        #expect(page.contains("href=\"/collections/\(otherSlug)/\""))
        // That type's collection lists the types' own products only, not the tagged one.
        let listing = try #require(shop.page("collections/\(otherSlug)/index.html"))
        #expect(!listing.contains("/products/\(products[typed].handle)/"))
    }
}
