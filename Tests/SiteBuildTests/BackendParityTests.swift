import Foundation
import ShopCore
import ShopImport
import ShopStore
import ShopTestSupport
import SiteBuild
import Testing

/// A shop that moves its catalog to PostgreSQL gets the very same site.
@Suite("Build parity: SQLite and PostgreSQL", .enabled(if: Backend.postgresAdminURL != nil))
struct BackendParityTests {
    @Test("Importing the fixtures into each backend and building each gives identical public/ trees")
    func identicalTrees() async throws {
        let shop = try await ExampleShop.make(importCatalog: false)
        defer { shop.remove() }
        let files = [Repository.exampleCatalog] + ["apparel", "home-and-garden", "jewelery"].map {
            Repository.shopifyFixture("\($0).csv")
        }

        var trees: [[String: Data]] = []
        for backend in [Backend.sqlite, .postgres] {
            let opened = try await backend.open()
            defer { opened.remove() }
            let summary = try await ShopifyImporter(store: opened.store, currency: shop.config.currency).importFiles(files)
            #expect(summary.products == 66)
            let output = shop.folder.file("public-\(backend)")
            let report = try await SiteBuilder(config: shop.config, store: opened.store).build(outputDirectory: output)
            #expect(report.products == 65, "the example's draft is left out")
            trees.append(snapshot(output))
            try await opened.store.close()
        }
        #expect(trees[0].count > 70)
        #expect(trees[0].keys.sorted() == trees[1].keys.sorted())
        for (path, data) in trees[0] where trees[1][path] != data {
            Issue.record("\(path) differs between SQLite and PostgreSQL builds")
        }
    }
}
