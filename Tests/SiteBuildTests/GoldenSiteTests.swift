import Crypto
import Foundation
import ShopImport
import ShopStore
import ShopSystem
import ShopTestSupport
import SiteBuild
import Testing

/// Every file of a site built from a generated catalog (../shared/bench/gen_catalog.py, fixed
/// seed), by its SHA-256, compared with Golden/generated-site.sha256: a change meant to leave the
/// output alone (a refactoring, an optimisation) must leave every byte of every file alone. After a
/// deliberate change to the output, write the list anew with
/// `ISHOP_UPDATE_GOLDEN=1 swift test --filter GoldenSiteTests` and read its diff before committing.
@Suite("Golden site")
struct GoldenSiteTests {
    static let generator = Repository.bench.appendingPathComponent("gen_catalog.py").path
    static let listPath = Repository.path("Tests/SiteBuildTests/Golden/generated-site.sha256")

    @Test("A 300-product generated catalog builds to exactly the files listed, byte for byte",
          .enabled(if: FileManager.default.fileExists(atPath: generator), "needs ../shared/bench/gen_catalog.py"))
    func generatedSite() async throws {
        let shop = try await ExampleShop.make(importCatalog: false)
        defer { shop.remove() }
        let generated = try ChildProcess.run(
            "python3", arguments: [Self.generator, "--products", "300", "--seed", "18", "--out", shop.folder.file("catalog")])
        try #require(generated.termination.succeeded, "gen_catalog.py: \(generated.errorText)")
        _ = try await ShopifyImporter(store: shop.store, currency: shop.config.currency)
            .importFiles([shop.folder.file("catalog/products.csv")])
        var builder = SiteBuilder(config: shop.config, store: shop.store)
        builder.buildDate = fixedBuildDate
        builder.processImages = false  // the catalog's images are on a CDN that is not running
        builder.syncBeforePublish = false
        _ = try await builder.build(outputDirectory: shop.output)

        var lines: [String] = []
        for relative in regularFiles(under: shop.output).sorted() where !relative.hasPrefix(".ishop") {
            let bytes = try #require(FileManager.default.contents(atPath: "\(shop.output)/\(relative)"))
            let digest = SHA256.hash(data: bytes).map { String(format: "%02x", $0) }.joined()
            lines.append("\(digest)  \(relative)")
        }
        let list = lines.joined(separator: "\n") + "\n"
        if ProcessInfo.processInfo.environment["ISHOP_UPDATE_GOLDEN"] == "1" {
            try Data(list.utf8).write(to: URL(fileURLWithPath: Self.listPath))
            return
        }
        let golden = try #require(readText(Self.listPath), "no list at \(Self.listPath): write it with ISHOP_UPDATE_GOLDEN=1")
        let expected = Set(golden.split(separator: "\n")), built = Set(list.split(separator: "\n"))
        #expect(lines.count > 600, "a whole site: pages, .gz, feeds, static files")
        for line in expected.subtracting(built).sorted().prefix(20) { Issue.record("missing or changed: \(line)") }
        for line in built.subtracting(expected).sorted().prefix(20) { Issue.record("new or changed: \(line)") }
    }
}
