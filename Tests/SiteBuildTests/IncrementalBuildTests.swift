import Foundation
import ShopCore
import ShopStore
import SiteBuild
import Testing

/// A rebuild takes over the product pages whose inputs did not change (same file, same inode)
/// and renders the rest; pages that left the plan are gone.
@Suite("Incremental builds")
struct IncrementalBuildTests {
    /// Inode of every product page, by handle.
    func productInodes(_ output: String) throws -> [String: UInt64] {
        var result: [String: UInt64] = [:]
        for handle in try FileManager.default.contentsOfDirectory(atPath: "\(output)/products") {
            let attributes = try FileManager.default.attributesOfItem(atPath: "\(output)/products/\(handle)/index.html")
            result[handle] = (attributes[.systemFileNumber] as? NSNumber)?.uint64Value
        }
        return result
    }

    @Test("Nothing changed: every product page is taken over; the site is the same")
    func noChange() async throws {
        let shop = try await ExampleShop.make()
        defer { shop.remove() }
        let first = try await shop.buildOnFixedDate()
        #expect(first.pagesReused == 0)
        let before = snapshot(shop.output)
        let inodes = try productInodes(shop.output)

        let second = try await shop.buildOnFixedDate()
        #expect(second.pagesReused == second.products)
        #expect(try productInodes(shop.output) == inodes, "unchanged pages are not rewritten")
        #expect(snapshot(shop.output) == before)
    }

    @Test("One product's price changes: only its page is rendered again")
    func oneProductChanges() async throws {
        let shop = try await ExampleShop.make()
        defer { shop.remove() }
        _ = try await shop.buildOnFixedDate()
        let inodes = try productInodes(shop.output)

        var fig = try #require(try await shop.store.catalog(includeUnpublished: true).first { $0.handle == "fig-bowl-print" })
        fig.variants[0].priceCents = 2500
        _ = try await shop.store.upsert([fig])
        let report = try await shop.buildOnFixedDate()
        #expect(report.pagesReused == report.products - 1)
        let after = try productInodes(shop.output)
        for (handle, inode) in inodes {
            if handle == "fig-bowl-print" {
                #expect(after[handle] != inode, "the changed product's page is new")
            } else {
                #expect(after[handle] == inode, "\(handle) was rewritten")
            }
        }
        #expect(shop.page("products/fig-bowl-print/index.html")?.contains("€25.00") == true)
        // The listings that show it follow too (they are always rendered).
        #expect(shop.page("collections/art-print/index.html")?.contains("from €25.00") == true)
    }

    @Test("An unpublished product's page is gone; a template change renders every page again")
    func removalsAndTemplates() async throws {
        let shop = try await ExampleShop.make()
        defer { shop.remove() }
        _ = try await shop.buildOnFixedDate()

        var fig = try #require(try await shop.store.catalog(includeUnpublished: true).first { $0.handle == "fig-bowl-print" })
        fig.published = false
        _ = try await shop.store.upsert([fig])
        _ = try await shop.buildOnFixedDate()
        #expect(!fileExists("\(shop.output)/products/fig-bowl-print/index.html"))
        #expect(!fileExists("\(shop.output)/products/fig-bowl-print/index.html.gz"))

        let theme = try #require(readText("\(shop.site)/themes/default/layouts/product.mustache"))
        #expect(theme.contains("Choose your print"))
        try shop.write("layouts/product.mustache", theme.replacingOccurrences(of: "Choose your print", with: "Pick a size"))
        let report = try await shop.buildOnFixedDate()
        #expect(report.pagesReused == 0)
        #expect(shop.page("products/bird-lamp-print/index.html")?.contains("Pick a size") == true)
    }
}
