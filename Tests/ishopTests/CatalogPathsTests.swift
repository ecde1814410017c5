import Foundation
import ShopTestSupport
import Testing

@Suite("End to end: PostgreSQL and hostile catalogs", .serialized)
struct CatalogPathsTests {
    @Test("import and build against PostgreSQL give the same site as against SQLite", .enabled(if: Backend.postgresAdminURL != nil))
    func postgresLikeSQLite() async throws {
        let shop = try Shop.copyExample()
        defer { shop.remove() }
        let url = try await Backend.freshDatabase()

        let sqliteImport = try shop.run(["import", "shopify", "catalog/products.csv"])
        #expect(sqliteImport.status == 0, "\(sqliteImport.stderr)")
        let postgresImport = try shop.run(["import", "shopify", "catalog/products.csv", "--database", url])
        #expect(postgresImport.status == 0, "\(postgresImport.stderr)")
        #expect(postgresImport.stdout == sqliteImport.stdout)

        #expect(try shop.run(["build", "--out", "site-sqlite"]).status == 0)
        let built = try shop.run(["build", "--out", "site-postgres"], environment: ["ISHOP_DATABASE_URL": url])
        #expect(built.status == 0, "\(built.stderr)")
        let files = try FileManager.default.subpathsOfDirectory(atPath: "\(shop.directory)/site-sqlite").sorted()
        #expect(files == (try FileManager.default.subpathsOfDirectory(atPath: "\(shop.directory)/site-postgres").sorted()))
        for file in files {
            let a = FileManager.default.contents(atPath: "\(shop.directory)/site-sqlite/\(file)")
            let b = FileManager.default.contents(atPath: "\(shop.directory)/site-postgres/\(file)")
            #expect(a == b, "\(file) differs")
        }

        // And the runtime serves from PostgreSQL.
        let server = try RunningServer(shop: shop, arguments: ["--database", url])
        let stock = try await server.get("/api/stock?skus=LP-FIG-A4")
        #expect(stock.body == #"{"stock":{"LP-FIG-A4":12}}"#)
        #expect(server.stop() == 0)
    }

    /// Strangers' CSVs: whatever they hold, no markup of theirs runs on a page or leaks from the API.
    @Test("Hostile product text is sanitised or escaped in public/ and in the API")
    func hostileCatalog() async throws {
        let shop = try Shop.copyExample()
        defer { shop.remove() }
        let csv = #"""
            Handle,Title,Body (HTML),Vendor,Type,Tags,Option1 Name,Option1 Value,Variant SKU,Variant Price
            evil-print,"<script>alert('title')</script> ""quoted"" \#u{202E}gnp.exe","<p onclick=""alert(1)"">Nice <b>print</b></p><script>alert(2)</script><img src=x onerror=alert(3)><a href=""javascript:alert(4)"">click</a><a href=""https://ok.example/"">ok</a><iframe src=https://evil.example></iframe><svg onload=alert(5)>","<b>Vendor</b>",<i>Type</i>,"<x>, tag""",Size,<s>,EVIL-1,10

            """#
        try csv.write(toFile: "\(shop.directory)/evil.csv", atomically: true, encoding: .utf8)
        let imported = try shop.run(["import", "shopify", "evil.csv"])
        #expect(imported.status == 0, "\(imported.stderr)")
        let built = try shop.run(["build"])
        #expect(built.status == 0, "\(built.stderr)")

        let page = try shop.read("public/products/evil-print/index.html")
        let lower = page.lowercased()
        for needle in ["<script>alert", "onclick=", "onerror=", "onload=", "javascript:", "<iframe", "<svg", "<img src=x", "<x>"] {
            #expect(!lower.contains(needle), "\(needle) reached the page")
        }
        #expect(page.contains("&lt;script&gt;alert("))
        #expect(page.contains("<b>print</b>"), "allowed markup of the description is kept")
        #expect(page.contains(#"<a href="https://ok.example/" rel="nofollow noopener">ok</a>"#))
        for file in ["public/index.html"] {
            let text = try shop.read(file).lowercased()
            #expect(!text.contains("<script>alert"), "\(file)")
        }

        let server = try RunningServer(shop: shop, arguments: [])
        let product = try await server.get("/api/products/evil-print")
        #expect(product.status == 200)
        #expect(product.contentType.hasPrefix("application/json"))
        let json = try #require(try JSONSerialization.jsonObject(with: Data(product.body.utf8)) as? [String: Any])
        #expect((json["title"] as? String)?.hasPrefix("<script>") == true, "JSON carries the text as text; the client escapes it")
        #expect(server.stop() == 0)
    }
}
