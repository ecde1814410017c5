import Foundation
import ShopCore
import ShopImport
import ShopStore
import ShopTestSupport
import Testing

/// The example shop's catalog (catalog/products.csv), as `ishop import shopify` reads it.
@Suite("Example catalog import")
struct ExampleCatalogTests {
    @Test("catalog/products.csv imports 6 products, 24 variants and 7 images")
    func counts() async throws {
        let fixture = try ImportFixture.make(currency: "EUR")
        defer { fixture.remove() }
        let expected = try IndependentCounts(file: Repository.exampleCatalog)
        #expect(expected.products == 6)
        #expect(expected.variants == 24)
        #expect(expected.images == 7)

        let summary = try await fixture.importer.importFiles([Repository.exampleCatalog])
        #expect(summary.products == 6)
        #expect(summary.variants == 24)
        #expect(summary.images == 7)
        #expect(summary.rows == expected.records)
        #expect(summary.changes.productsCreated == 6)

        let catalog = try await fixture.catalog()
        #expect(catalog.map(\.handle) == expected.handles)
        #expect(catalog.reduce(0) { $0 + $1.variants.count } == 24)
        #expect(catalog.reduce(0) { $0 + $1.images.count } == 7)
        try await fixture.store.close()
    }

    @Test("sunset-hills-print is a draft: stored, but not in the published catalog")
    func draftProduct() async throws {
        let fixture = try ImportFixture.make(currency: "EUR")
        defer { fixture.remove() }
        _ = try await fixture.importer.importFiles([Repository.exampleCatalog])

        let all = try await fixture.store.catalog(includeUnpublished: true)
        let published = try await fixture.store.catalog(includeUnpublished: false)
        let sunset = try #require(all.first { $0.handle == "sunset-hills-print" })
        #expect(!sunset.published)
        #expect(sunset.variants.map(\.sku) == ["LP-SUN-A4", "LP-SUN-A3", "LP-SUN-A2"])
        #expect(published.count == 5)
        #expect(!published.contains { $0.handle == "sunset-hills-print" })
        #expect(published.allSatisfy { $0.published })
        #expect(try await fixture.store.product(handle: "sunset-hills-print") == nil)
        #expect(try await fixture.store.stock(skus: ["LP-SUN-A4", "LP-FIG-A4"]) == ["LP-FIG-A4": 12])
        try await fixture.store.close()
    }

    @Test("autumn-meadow-print has no SKUs in the file and gets generated ones")
    func generatedSKUs() async throws {
        let fixture = try ImportFixture.make(currency: "EUR")
        defer { fixture.remove() }
        _ = try await fixture.importer.importFiles([Repository.exampleCatalog])
        let autumn = try #require(try await fixture.store.product(handle: "autumn-meadow-print"))
        #expect(autumn.title == "Autumn Meadow, Aitzgorri")
        #expect(autumn.variants.map(\.sku) == ["autumn-meadow-print-a4", "autumn-meadow-print-a3", "autumn-meadow-print-a2"])
        #expect(autumn.variants.map(\.priceCents) == [2400, 3400, 4800])
        #expect(autumn.variants.map(\.stock) == [10, 2, 5])
        try await fixture.store.close()
    }

    @Test("Prices written as 120, 19.5 and 24.00 are exact; two options; alt texts in order")
    func exactValues() async throws {
        let fixture = try ImportFixture.make(currency: "EUR")
        defer { fixture.remove() }
        _ = try await fixture.importer.importFiles([Repository.exampleCatalog])

        let fig = try #require(try await fixture.store.product(handle: "fig-bowl-print"))
        #expect(fig.optionNames == ["Size", "Frame"])
        #expect(fig.tags == ["Still Life", "Food", "Red"])
        #expect(fig.seoTitle == "Fig in a Red Bowl – still-life art print")
        #expect(fig.variants.map(\.sku) == ["LP-FIG-A4", "LP-FIG-A4-OAK", "LP-FIG-A3", "LP-FIG-A3-OAK", "LP-FIG-A2", "LP-FIG-A2-OAK"])
        #expect(fig.variants.map(\.priceCents) == [2400, 6900, 3400, 8900, 4800, 12000])
        #expect(fig.variants.last?.options == ["A2", "Oak"])
        #expect(fig.variants.last?.stock == 0)
        #expect(fig.variants.first?.grams == 120)
        #expect(fig.variants.first?.weightUnit == "g")

        let wine = try #require(try await fixture.store.product(handle: "wine-still-life-print"))
        #expect(wine.variants.map(\.priceCents) == [1950, 2900, 3950])
        #expect(wine.variants.map(\.compareAtCents) == [2600, 3800, 5200])
        #expect(wine.bodyHTML.contains("<em>matte</em>"))

        let bird = try #require(try await fixture.store.product(handle: "bird-lamp-print"))
        #expect(bird.variants.count == 6)
        #expect(bird.images == [
            ProductImage(src: "/images/products/bird-lamp.jpg", position: 1,
                         alt: "A small painted wooden bird with outstretched wings hanging beneath a lamp with glowing white globes"),
            ProductImage(src: "/images/products/clock-cutout.png", position: 2,
                         alt: "Companion detail from the same interior series: the face of a wall clock with backlit numerals, cut out as a circle"),
        ])
        try await fixture.store.close()
    }

    @Test("The example catalog imports unchanged a second time")
    func idempotent() async throws {
        let fixture = try ImportFixture.make(currency: "EUR")
        defer { fixture.remove() }
        _ = try await fixture.importer.importFiles([Repository.exampleCatalog])
        let before = try await fixture.catalog()
        let again = try await fixture.importer.importFiles([Repository.exampleCatalog])
        var unchanged = UpsertSummary()
        unchanged.productsUnchanged = 6
        #expect(again.changes == unchanged)
        #expect(try await fixture.catalog() == before)
        try await fixture.store.close()
    }
}
