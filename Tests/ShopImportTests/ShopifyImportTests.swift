import Foundation
import ShopCore
import ShopImport
import ShopStore
import ShopTestSupport
import Testing

/// Shopify's own sample exports, imported into real SQLite files.
@Suite("Shopify import of the shared fixtures")
struct ShopifyFixtureImportTests {
    /// Counts checked by hand against the files; the tests also recompute them from the CSV.
    static let knownCounts: [String: (products: Int, variants: Int, images: Int)] = [
        "apparel.csv": (20, 22, 20),
        "home-and-garden.csv": (20, 21, 21),
        "jewelery.csv": (20, 23, 41),
    ]

    @Test("The shared Shopify fixtures are where the tests expect them")
    func fixturesPresent() {
        let names = Repository.shopifyFixtureNames()
        #expect(Set(names).isSuperset(of: Self.knownCounts.keys), "found \(names) in \(Repository.shopifyFixtures.path)")
    }

    @Test("Each fixture imports with the counts an independent reading of the CSV gives",
          arguments: Repository.shopifyFixtureNames())
    func fixtureCounts(name: String) async throws {
        let path = Repository.shopifyFixture(name)
        let expected = try IndependentCounts(file: path)
        try #require(expected.products > 0)

        let fixture = try ImportFixture.make()
        defer { fixture.remove() }
        let summary = try await fixture.importer.importFiles([path])

        #expect(summary.files == 1)
        #expect(summary.rows == expected.records)
        #expect(summary.products == expected.products)
        #expect(summary.variants == expected.variants)
        #expect(summary.images == expected.images)
        #expect(summary.changes.productsCreated == expected.products)
        #expect(summary.changes.variantsCreated == expected.variants)
        #expect(summary.changes.imagesCreated == expected.images)
        #expect(summary.changes.productsUpdated == 0)
        #expect(summary.changes.productsUnchanged == 0)

        if let known = Self.knownCounts[name] {
            #expect(expected.products == known.products)
            #expect(expected.variants == known.variants)
            #expect(expected.images == known.images)
            #expect(summary.products == known.products)
            #expect(summary.variants == known.variants)
            #expect(summary.images == known.images)
        }

        // What was stored, product by product.
        let catalog = try await fixture.catalog()
        #expect(catalog.map(\.handle) == expected.handles)
        #expect(catalog.reduce(0) { $0 + $1.variants.count } == expected.variants)
        #expect(catalog.reduce(0) { $0 + $1.images.count } == expected.images)
        for product in catalog {
            #expect(product.variants.count == expected.variantsByHandle[product.handle], "\(product.handle)")
            #expect(Set(product.images.map(\.src)) == expected.imagesByHandle[product.handle], "\(product.handle)")
            #expect(product.images.map(\.position) == Array(1..<(product.images.count + 1)), "\(product.handle)")
            #expect(Set(product.variants.map(\.sku)).count == product.variants.count, "SKUs unique in \(product.handle)")
        }
        try await fixture.store.close()
    }

    @Test("All fixtures import together in one call")
    func allFixturesAtOnce() async throws {
        let paths = Self.knownCounts.keys.sorted().map(Repository.shopifyFixture)
        let fixture = try ImportFixture.make()
        defer { fixture.remove() }
        let summary = try await fixture.importer.importFiles(paths)
        #expect(summary.files == 3)
        #expect(summary.products == 60)
        #expect(summary.variants == 66)
        #expect(summary.images == 82)
        #expect(try await fixture.catalog().count == 60)
        try await fixture.store.close()
    }

    @Test("Prices, compare-at prices, options, stock, images and generated SKUs of one product are exact")
    func chainBracelet() async throws {
        let fixture = try ImportFixture.make()
        defer { fixture.remove() }
        _ = try await fixture.importer.importFiles([Repository.shopifyFixture("jewelery.csv")])
        let catalog = try await fixture.catalog()
        let product = try #require(catalog.first { $0.handle == "chain-bracelet" })

        #expect(product.title == "7 Shakra Bracelet")
        #expect(product.bodyHTML == "7 chakra bracelet, in blue or black.")
        #expect(product.vendor == "Company 123")
        #expect(product.productType == "Bracelet")
        #expect(product.tags == ["Beads"])
        #expect(product.published)
        #expect(product.optionNames == ["Color"])
        #expect(product.variants == [
            Variant(sku: "chain-bracelet-blue", options: ["Blue"], priceCents: 4299, compareAtCents: 4499, stock: 1,
                    inventoryPolicy: .deny, grams: 0, requiresShipping: true, taxable: true, barcode: "",
                    imageSrc: "https://burst.shopifycdn.com/photos/navy-blue-chakra-bracelet_925x.jpg", weightUnit: "kg"),
            Variant(sku: "chain-bracelet-black", options: ["Black"], priceCents: 4299, compareAtCents: 4499, stock: 0,
                    inventoryPolicy: .deny, grams: 0, requiresShipping: true, taxable: true, barcode: "",
                    imageSrc: "https://burst.shopifycdn.com/photos/7-chakra-bracelet_925x.jpg", weightUnit: "kg"),
        ])
        #expect(product.images == [
            ProductImage(src: "https://burst.shopifycdn.com/photos/7-chakra-bracelet_925x.jpg", position: 1, alt: ""),
            ProductImage(src: "https://burst.shopifycdn.com/photos/navy-blue-chakra-bracelet_925x.jpg", position: 2, alt: ""),
        ])
        #expect(product.variants.allSatisfy { $0.isOnSale })
        #expect(product.variants.map(\.isAvailable) == [true, false])
        #expect(try await fixture.store.stock(skus: ["chain-bracelet-blue", "chain-bracelet-black"])
            == ["chain-bracelet-blue": 1, "chain-bracelet-black": 0])
        try await fixture.store.close()
    }

    @Test("Variants with different prices, image-only rows and a record spanning lines")
    func otherJeweleryProducts() async throws {
        let fixture = try ImportFixture.make()
        defer { fixture.remove() }
        _ = try await fixture.importer.importFiles([Repository.shopifyFixture("jewelery.csv")])
        let catalog = try await fixture.catalog()

        let anchor = try #require(catalog.first { $0.handle == "leather-anchor" })
        #expect(anchor.variants.map(\.sku) == ["leather-anchor-gold", "leather-anchor-silver"])
        #expect(anchor.variants.map(\.priceCents) == [6999, 5500])
        #expect(anchor.variants.map(\.compareAtCents) == [8500, 8500])
        #expect(anchor.hasVaryingPrices)
        #expect(anchor.lowestPriceCents == 5500)
        #expect(anchor.tags == ["Anchor", "Gold", "Leather", "Silver"])
        #expect(anchor.images.map(\.src) == [
            "https://burst.shopifycdn.com/photos/anchor-bracelet-mens_925x.jpg",
            "https://burst.shopifycdn.com/photos/anchor-bracelet-for-men_925x.jpg",
            "https://burst.shopifycdn.com/photos/leather-anchor-bracelet-for-men_925x.jpg",
        ])

        let gemstone = try #require(catalog.first { $0.handle == "gemstone" })
        #expect(gemstone.bodyHTML.hasPrefix("<p>Gemstone pendant, housed in sterling silver, with sterling silver chain.</p>\n<ul>\n"))
        #expect(gemstone.bodyHTML.hasSuffix("<li>Made in USA</li>\n</ul>"))
        #expect(gemstone.optionNames == ["Colour"])
        #expect(gemstone.variants.map(\.options) == [["Blue"], ["Purple"]])
        #expect(gemstone.variants.map(\.sku) == ["gemstone-blue", "gemstone-purple"])
        #expect(gemstone.variants.map(\.stock) == [1, 0])
        #expect(gemstone.images.map(\.position) == [1, 2, 3, 4])
        #expect(gemstone.images.last?.src == "https://burst.shopifycdn.com/photos/purple-gemstone-necklace_925x.jpg")

        // "Title" / "Default Title" means no options; the SKU is then the handle.
        let bangle = try #require(catalog.first { $0.handle == "bangle-bracelet" })
        #expect(bangle.optionNames == [])
        #expect(bangle.variants.count == 1)
        #expect(bangle.variants.first?.options == [])
        #expect(bangle.variants.first?.sku == "bangle-bracelet")
        #expect(bangle.variants.first?.priceCents == 3999)
        #expect(bangle.variants.first?.compareAtCents == 4399)
        try await fixture.store.close()
    }

    @Test("Generated SKUs are stable across imports into different databases, and follow handle-option-slug")
    func stableGeneratedSKUs() async throws {
        let paths = Self.knownCounts.keys.sorted().map(Repository.shopifyFixture)
        let first = try ImportFixture.make()
        defer { first.remove() }
        let second = try ImportFixture.make()
        defer { second.remove() }
        _ = try await first.importer.importFiles(paths)
        _ = try await second.importer.importFiles(Array(paths.reversed()))

        func skus(_ catalog: [Product]) -> [String: [String]] {
            Dictionary(uniqueKeysWithValues: catalog.map { ($0.handle, $0.variants.map(\.sku)) })
        }
        let firstCatalog = try await first.catalog()
        let secondCatalog = try await second.catalog()
        #expect(skus(firstCatalog) == skus(secondCatalog))
        #expect(skus(firstCatalog).count == 60)

        // The fixtures give no SKUs: every one is made of the handle and a slug of the option values.
        func simpleSlug(_ text: String) -> String {
            text.lowercased().split(whereSeparator: { !($0.isLetter || $0.isNumber) }).joined(separator: "-")
        }
        for product in firstCatalog {
            for variant in product.variants {
                let expected = variant.options.isEmpty
                    ? product.handle : product.handle + "-" + simpleSlug(variant.options.joined(separator: " "))
                #expect(variant.sku == expected)
            }
        }
        let varsity = try #require(firstCatalog.first { $0.handle == "classic-varsity-top" })
        #expect(varsity.variants.map(\.sku) == ["classic-varsity-top-small", "classic-varsity-top-medium", "classic-varsity-top-large"])
        #expect(firstCatalog.first { $0.handle == "ocean-blue-shirt" }?.variants.map(\.sku) == ["ocean-blue-shirt"])
        try await first.store.close()
        try await second.store.close()
    }

    @Test("Importing the same files twice changes nothing the second time")
    func idempotentImport() async throws {
        let paths = Self.knownCounts.keys.sorted().map(Repository.shopifyFixture)
        let fixture = try ImportFixture.make()
        defer { fixture.remove() }
        let first = try await fixture.importer.importFiles(paths)
        #expect(first.changes.productsCreated == 60)
        let before = try await fixture.catalog()

        let second = try await fixture.importer.importFiles(paths)
        var unchanged = UpsertSummary()
        unchanged.productsUnchanged = 60
        #expect(second.changes == unchanged)
        #expect(second.products == 60)
        #expect(second.variants == 66)
        #expect(second.images == 82)
        #expect(try await fixture.catalog() == before)

        // One file again, alone: the others are left alone.
        let jewelery = try await fixture.importer.importFiles([Repository.shopifyFixture("jewelery.csv")])
        var jeweleryUnchanged = UpsertSummary()
        jeweleryUnchanged.productsUnchanged = 20
        #expect(jewelery.changes == jeweleryUnchanged)
        #expect(try await fixture.catalog() == before)
        try await fixture.store.close()
    }

    @Test("Changing one price in a copy of a file updates exactly that variant")
    func priceChange() async throws {
        let fixture = try ImportFixture.make()
        defer { fixture.remove() }
        let original = Repository.shopifyFixture("jewelery.csv")
        _ = try await fixture.importer.importFiles([original])
        let before = try await fixture.catalog()

        let text = try String(contentsOfFile: original, encoding: .utf8)
        let silverRow = ",Silver,,,,,,0,,0,deny,manual,55,85,"
        #expect(text.components(separatedBy: silverRow).count == 2, "the row to change is in the fixture once")
        let changed = text.replacingOccurrences(of: silverRow, with: ",Silver,,,,,,0,,0,deny,manual,56.50,85,")
        let copy = try fixture.directory.write("jewelery-changed.csv", changed)

        let summary = try await fixture.importer.importFiles([copy])
        var expected = UpsertSummary()
        expected.productsUpdated = 1
        expected.productsUnchanged = 19
        expected.variantsUpdated = 1
        #expect(summary.changes == expected)

        let after = try await fixture.catalog()
        let anchor = try #require(after.first { $0.handle == "leather-anchor" })
        #expect(anchor.variants.map(\.priceCents) == [6999, 5650])
        // Everything else is exactly as before.
        var expectedCatalog = before
        let index = try #require(expectedCatalog.firstIndex { $0.handle == "leather-anchor" })
        try #require(expectedCatalog[index].variants.count == 2)
        expectedCatalog[index].variants[1].priceCents = 5650
        #expect(after == expectedCatalog)
        try await fixture.store.close()
    }

    @Test("A bad value after a record that spans lines is reported on its physical line")
    func errorLineInFixture() async throws {
        let fixture = try ImportFixture.make()
        defer { fixture.remove() }
        let text = try String(contentsOfFile: Repository.shopifyFixture("jewelery.csv"), encoding: .utf8)
        let purpleRow = ",Purple,,,,,,0,,0,deny,manual,27.99,29.99,"
        #expect(text.components(separatedBy: purpleRow).count == 2)
        // The physical line of that row, counted independently (the gemstone record before it spans lines 29-35).
        // Split on LF bytes: the file ends records with CRLF and has bare LFs inside quoted fields,
        // and Swift treats "\r\n" as one Character, so String-level splitting would miscount.
        let physicalLines = text.utf8.split(separator: UInt8(ascii: "\n"), omittingEmptySubsequences: false)
            .map { String(decoding: $0, as: UTF8.self) }
        let lineNumber = try #require(physicalLines.firstIndex { $0.contains(purpleRow) }) + 1
        #expect(lineNumber == 36)
        let path = try fixture.directory.write("jewelery-bad.csv",
                                               text.replacingOccurrences(of: purpleRow, with: ",Purple,,,,,,0,,0,deny,manual,27.9x,29.99,"))

        let error = try await #require(throws: ImportError.self) { try await fixture.importer.importFiles([path]) }
        #expect(error.file == path)
        #expect(error.line == lineNumber)
        #expect(error.column == "Variant Price")
        #expect(error.value == "27.9x")
        #expect(try await fixture.catalog().isEmpty)
        try await fixture.store.close()
    }
}

/// Behaviour of the importer on small CSVs written by the tests.
@Suite("Shopify import semantics")
struct ShopifyImportSemanticsTests {
    @Test("Images are ordered by Image Position, keep their alt text, and a repeated image is kept once")
    func imageOrder() async throws {
        let fixture = try ImportFixture.make()
        defer { fixture.remove() }
        let path = try fixture.directory.write("images.csv", ShopCSV.file([
            ["Handle": "art-print", "Title": "Art Print", "Variant Price": "10", "Image Src": "/images/c.jpg", "Image Position": "3", "Image Alt Text": "Third"],
            ["Handle": "art-print", "Image Src": "https://cdn.example.com/a.jpg", "Image Position": "1", "Image Alt Text": "First, \"quoted\""],
            ["Handle": "art-print", "Image Src": "/images/b.jpg", "Image Position": "2", "Image Alt Text": "Second"],
            ["Handle": "art-print", "Image Src": "/images/c.jpg", "Image Position": "4", "Image Alt Text": "Again"],
        ]))
        let summary = try await fixture.importer.importFiles([path])
        #expect(summary.images == 3)
        let catalog = try await fixture.catalog()
        let product = try #require(catalog.first)
        #expect(product.images == [
            ProductImage(src: "https://cdn.example.com/a.jpg", position: 1, alt: "First, \"quoted\""),
            ProductImage(src: "/images/b.jpg", position: 2, alt: "Second"),
            ProductImage(src: "/images/c.jpg", position: 3, alt: "Third"),
        ])
        try await fixture.store.close()
    }

    @Test("Generated SKUs join the handle and a slug of every option value; given SKUs are kept")
    func generatedSKUs() async throws {
        let fixture = try ImportFixture.make(currency: "EUR")
        defer { fixture.remove() }
        let path = try fixture.directory.write("skus.csv", ShopCSV.file([
            ["Handle": "art-print", "Title": "Art Print", "Option1 Name": "Size", "Option1 Value": "A4",
             "Option2 Name": "Frame", "Option2 Value": "No frame", "Variant Price": "24.00"],
            ["Handle": "art-print", "Option1 Value": "A3", "Option2 Value": "Oak Wood", "Variant Price": "34"],
            ["Handle": "art-print", "Option1 Value": "A2", "Option2 Value": "Oak Wood", "Variant Price": "48.5", "Variant SKU": "AP-A2-OAK"],
            ["Handle": "café-noir", "Title": "Café Noir", "Option1 Name": "Title", "Option1 Value": "Default Title", "Variant Price": "3"],
        ]))
        _ = try await fixture.importer.importFiles([path])
        let catalog = try await fixture.catalog()
        #expect(catalog.first?.variants.map(\.sku) == ["art-print-a4-no-frame", "art-print-a3-oak-wood", "AP-A2-OAK"])
        #expect(catalog.first?.variants.map(\.priceCents) == [2400, 3400, 4850])
        #expect(catalog.first?.variants.map(\.options) == [["A4", "No frame"], ["A3", "Oak Wood"], ["A2", "Oak Wood"]])
        #expect(catalog.last?.handle == "café-noir")
        #expect(catalog.last?.variants.map(\.sku) == ["café-noir"])
        #expect(catalog.last?.optionNames == [])
        try await fixture.store.close()
    }

    @Test("Drafts: Published false or Status draft/archived are stored unpublished")
    func drafts() async throws {
        let fixture = try ImportFixture.make()
        defer { fixture.remove() }
        let path = try fixture.directory.write("drafts.csv", ShopCSV.file([
            ["Handle": "live", "Title": "Live", "Variant Price": "1", "Published": "TRUE", "Status": "active"],
            ["Handle": "unpublished", "Title": "Unpublished", "Variant Price": "1", "Published": "false"],
            ["Handle": "draft", "Title": "Draft", "Variant Price": "1", "Status": "draft"],
            ["Handle": "archived", "Title": "Archived", "Variant Price": "1", "Published": "true", "Status": "archived"],
        ]))
        _ = try await fixture.importer.importFiles([path])
        #expect(try await fixture.catalog().map(\.published) == [true, false, false, false])
        #expect(try await fixture.store.catalog(includeUnpublished: false).map(\.handle) == ["live"])
        try await fixture.store.close()
    }
}
