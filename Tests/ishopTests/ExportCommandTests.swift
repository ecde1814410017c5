import Foundation
import Testing

/// `ishop export shopify`, driven as a shop owner would: the built binary on a copy of the example shop.
@Suite(.serialized) struct ExportCommandTests {
    /// The example shop with its catalog imported.
    private static func importedShop() throws -> Shop {
        let shop = try Shop.copyExample()
        let imported = try shop.run(["import", "shopify", "catalog/products.csv"])
        #expect(imported.status == 0, "\(imported.stderr)")
        return shop
    }

    @Test func exportToFileReimportsUnchanged() throws {
        let shop = try Self.importedShop()
        defer { shop.remove() }

        let exported = try shop.run(["export", "shopify", "--out", "out.csv"])
        #expect(exported.status == 0, "\(exported.stderr)")
        #expect(shop.exists("out.csv"))
        #expect(exported.stdout.isEmpty, "the CSV went to the file, not to standard output")
        #expect(exported.stderr.contains("Exported 6 products, 24 variants, 7 images to out.csv"), "\(exported.stderr)")

        let text = try shop.read("out.csv")
        let header = try Self.shopifyHeader(shop)
        #expect(text.hasPrefix(header + "\r\n"))
        #expect(text.hasSuffix("\r\n"))
        #expect(text.contains("sunset-hills-print,Sunset Over the Hills,"), "drafts are exported by default")

        let again = try shop.run(["import", "shopify", "out.csv"])
        #expect(again.status == 0, "\(again.stderr)")
        #expect(again.stdout.contains("products: 0 created, 0 updated, 6 unchanged"), "\(again.stdout)")
        #expect(again.stdout.contains("variants: 0 created, 0 updated, 0 removed"), "\(again.stdout)")

        let leftovers = try FileManager.default.contentsOfDirectory(atPath: shop.directory).filter { $0.hasSuffix(".partial") }
        #expect(leftovers.isEmpty, "\(leftovers)")
    }

    @Test func exportWithoutOutWritesStandardOutput() throws {
        let shop = try Self.importedShop()
        defer { shop.remove() }

        let header = try Self.shopifyHeader(shop)
        let exported = try shop.run(["export", "shopify"])
        #expect(exported.status == 0, "\(exported.stderr)")
        #expect(exported.stdout.hasPrefix(header + "\r\n"))
        #expect(!exported.stdout.contains("Exported"), "the summary must not mix into the CSV")
        #expect(exported.stderr.contains("Exported 6 products, 24 variants, 7 images to standard output"), "\(exported.stderr)")

        // The same bytes as a file export.
        let toFile = try shop.run(["export", "shopify", "--out", "file.csv"])
        #expect(toFile.status == 0, "\(toFile.stderr)")
        #expect(try shop.read("file.csv") == exported.stdout)
    }

    @Test func publishedOnlyLeavesOutDrafts() throws {
        let shop = try Self.importedShop()
        defer { shop.remove() }

        let exported = try shop.run(["export", "shopify", "--published-only", "--out", "live.csv"])
        #expect(exported.status == 0, "\(exported.stderr)")
        #expect(exported.stderr.contains("Exported 5 products, 21 variants, 6 images to live.csv"), "\(exported.stderr)")
        let text = try shop.read("live.csv")
        #expect(!text.contains("sunset-hills-print"))
        #expect(text.contains("fig-bowl-print,Fig in a Red Bowl,"))
    }

    @Test func failedExportWritesNothing() throws {
        let shop = try Self.importedShop()
        defer { shop.remove() }

        let failed = try shop.run(["export", "shopify", "--out", "no-such-folder/out.csv"])
        #expect(failed.status != 0)
        #expect(failed.stderr.contains("error:"), "\(failed.stderr)")
        #expect(failed.stderr.contains("does not exist"), "\(failed.stderr)")
        #expect(failed.stdout.isEmpty)
        #expect(!shop.exists("no-such-folder"))
    }

    /// The header line of the example catalog, which is Shopify's own.
    private static func shopifyHeader(_ shop: Shop) throws -> String {
        let catalog = try shop.read("catalog/products.csv")
        return String(catalog.prefix { $0 != "\n" && $0 != "\r\n" && $0 != "\r" })
    }
}
