import Foundation
import ShopCore
import ShopImport
import ShopTestSupport
import SiteBuild
import Testing

/// Rendering on several workers must not change a byte of the site.
@Suite("Parallel rendering")
struct ParallelBuildTests {
    @Test("Builds with 1, 2 and 7 jobs write identical trees", arguments: [2, 7])
    func jobsDoNotChangeOutput(jobs: Int) async throws {
        let shop = try await ExampleShop.make()
        defer { shop.remove() }
        // More products than one worker window, so windows, workers and order all matter.
        _ = try await ShopifyImporter(store: shop.store, currency: shop.config.currency)
            .importFiles(["apparel", "home-and-garden", "jewelery"].map { Repository.shopifyFixture("\($0).csv") })

        var trees: [[String: Data]] = []
        for count in [1, jobs] {
            var builder = SiteBuilder(config: shop.config, store: shop.store)
            builder.buildDate = fixedBuildDate
            builder.jobs = count
            let output = shop.folder.file("public-\(count)")
            let report = try await builder.build(outputDirectory: output)
            #expect(report.products == 65)
            trees.append(snapshot(output))
        }
        #expect(trees[0].keys.sorted() == trees[1].keys.sorted())
        for (path, data) in trees[0] where trees[1][path] != data {
            Issue.record("\(path) differs between 1 and \(jobs) jobs")
        }
    }
}
