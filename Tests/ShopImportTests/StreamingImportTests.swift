import Foundation
import ShopCore
import ShopImport
import ShopStore
import ShopTestSupport
import Testing

/// The write pass hands products to the Store in batches; the result must not depend on them.
@Suite("Streaming import")
struct StreamingImportTests {
    @Test("Batches of 1, 7 and 500 products give the same catalog and summary")
    func batchSizeDoesNotMatter() async throws {
        let paths = Repository.shopifyFixtureNames().map(Repository.shopifyFixture) + [Repository.exampleCatalog]
        var catalogs: [[Product]] = []
        var summaries: [ImportSummary] = []
        for size in [1, 7, 500] {
            let fixture = try ImportFixture.make(currency: "EUR")
            defer { fixture.remove() }
            var importer = ShopifyImporter(store: fixture.store, currency: Currency(code: "EUR")!)
            importer.batchSize = size
            summaries.append(try await importer.importFiles(paths))
            catalogs.append(try await fixture.catalog())
            try await fixture.store.close()
        }
        #expect(catalogs[0].count == 66)
        #expect(catalogs[0] == catalogs[1])
        #expect(catalogs[0] == catalogs[2])
        #expect(summaries[0] == summaries[1])
        #expect(summaries[0] == summaries[2])
    }

    /// A SKU moves from a product late in the file to one early in it: with batches of one
    /// product, the claim is written before the old owner's row is even read.
    @Test("A SKU moves between products in different batches")
    func skuMovesAcrossBatches() async throws {
        let fixture = try ImportFixture.make(currency: "EUR")
        defer { fixture.remove() }
        let header = "Handle,Title,Option1 Name,Option1 Value,Variant SKU,Variant Price\n"
        let before = try fixture.directory.write("before.csv", header + """
            first,First,Size,S,FIRST-S,10
            second,Second,Size,S,MOVING,10
            second,,,M,SECOND-M,10

            """)
        let after = try fixture.directory.write("after.csv", header + """
            first,First,Size,S,FIRST-S,10
            first,,,M,MOVING,12
            second,Second,Size,M,SECOND-M,10

            """)
        var importer = ShopifyImporter(store: fixture.store, currency: Currency(code: "EUR")!)
        importer.batchSize = 1
        _ = try await importer.importFiles([before])
        let summary = try await importer.importFiles([after])
        #expect(summary.changes.variantsRemoved == 1)
        #expect(summary.changes.variantsCreated == 1)
        let catalog = try await fixture.catalog()
        #expect(catalog.first { $0.handle == "first" }?.variants.map(\.sku) == ["FIRST-S", "MOVING"])
        #expect(catalog.first { $0.handle == "second" }?.variants.map(\.sku) == ["SECOND-M"])
        try await fixture.store.close()
    }

    @Test("A bad row in the last batch of the last file writes nothing at all")
    func lateErrorWritesNothing() async throws {
        let fixture = try ImportFixture.make(currency: "EUR")
        defer { fixture.remove() }
        let good = Repository.shopifyFixture("apparel.csv")
        let text = try String(contentsOfFile: Repository.exampleCatalog, encoding: .utf8)
        var lines = text.components(separatedBy: "\n")
        // Break the price on the last variant row.
        let last = try #require(lines.lastIndex { $0.contains(",24.00,") || $0.contains(",48.00,") || $0.contains(",34.00,") })
        lines[last] = lines[last].replacingOccurrences(of: ".00,", with: ".0x,")
        let bad = try fixture.directory.write("bad.csv", lines.joined(separator: "\n"))
        var importer = ShopifyImporter(store: fixture.store, currency: Currency(code: "EUR")!)
        importer.batchSize = 1
        await #expect(throws: ImportError.self) { try await importer.importFiles([good, bad]) }
        #expect(try await fixture.catalog().isEmpty)
        try await fixture.store.close()
    }
}
