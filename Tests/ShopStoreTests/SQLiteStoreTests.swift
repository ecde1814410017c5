import Foundation
import ShopCore
import ShopStore
import Testing

/// The SQLite store on real files in a temporary folder.
@Suite("SQLiteStore")
struct SQLiteStoreTests {
    static func bytes(_ path: String) -> [UInt8] {
        FileManager.default.contents(atPath: path).map { [UInt8]($0) } ?? []
    }

    static func contains(_ haystack: [UInt8], _ needle: String) -> Bool {
        let pattern = Array(needle.utf8)
        guard !pattern.isEmpty, haystack.count >= pattern.count else { return false }
        for start in 0...(haystack.count - pattern.count) where haystack[start] == pattern[0] {
            if Array(haystack[start..<(start + pattern.count)]) == pattern { return true }
        }
        return false
    }

    @Test("Opening a new file creates the catalog schema in a WAL-mode SQLite database")
    func createsSchemaInWALMode() async throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let path = directory.file("shop.sqlite")
        #expect(!FileManager.default.fileExists(atPath: path))

        let store = try SQLiteStore(path: path)
        #expect(store.path == path)
        try await store.ping()
        #expect(try await store.catalog(includeUnpublished: true).isEmpty)
        _ = try await store.upsert([Sample.figPrint()])

        // WAL mode: writes go to the "-wal" file next to the database while it is open.
        #expect(FileManager.default.fileExists(atPath: path + "-wal"))
        // The schema is in the database (in the main file or still in the WAL).
        let written = Self.bytes(path) + Self.bytes(path + "-wal")
        for table in ["products", "variants", "images", "tags", "collections", "product_collections"] {
            #expect(Self.contains(written, "CREATE TABLE \(table)"), "table \(table)")
        }
        try await store.close()

        // After closing, the file is a SQLite 3 database whose header says WAL (read and write versions 2).
        let header = Self.bytes(path)
        try #require(header.count >= 100)
        #expect(Array(header[0..<16]) == Array("SQLite format 3\u{0}".utf8))
        #expect(header[18] == 2, "file format write version")
        #expect(header[19] == 2, "file format read version")
    }

    @Test("Every field of a product survives an upsert and a read")
    func roundTrip() async throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let store = try SQLiteStore(path: directory.file("shop.sqlite"))
        let product = Sample.figPrint()
        let other = Sample.simple(handle: "plain-poster", sku: "POSTER-1")

        let summary = try await store.upsert([product, other])
        var expected = UpsertSummary()
        expected.productsCreated = 2
        expected.variantsCreated = 4
        expected.imagesCreated = 2
        #expect(summary == expected)

        let catalog = try await store.catalog(includeUnpublished: true)
        #expect(catalog == [product, other])  // in insertion order, every field equal
        let read = try #require(catalog.first)
        try #require(read.variants.count == 3)
        #expect(read.optionNames == ["Size", "Frame", "Paper"])
        #expect(read.variants.map(\.sku) == ["FIG-A4-NONE-MATTE", "FIG-A4-OAK-GLOSS", "FIG-A3-OAK-MATTE"])
        #expect(read.variants[0].compareAtCents == 3000)
        #expect(read.variants[1].compareAtCents == nil)
        #expect(read.variants[1].inventoryPolicy == .continue)
        #expect(read.variants[1].requiresShipping == false)
        #expect(read.variants[1].taxable == false)
        #expect(read.tags == ["Still Life", "Food", "Red"])
        #expect(read.images.map(\.position) == [1, 2])
        #expect(catalog.last?.optionNames == [])
        #expect(catalog.last?.variants.first?.options == [])

        #expect(try await store.product(handle: "fig-bowl-print") == product)
        #expect(try await store.catalog(includeUnpublished: false) == [product, other])
        try await store.close()
    }

    @Test("Upserting the same products again changes nothing")
    func idempotentUpsert() async throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let store = try SQLiteStore(path: directory.file("shop.sqlite"))
        let products = [Sample.figPrint(), Sample.simple(handle: "plain-poster", sku: "POSTER-1")]
        _ = try await store.upsert(products)
        let before = try await store.catalog(includeUnpublished: true)

        let again = try await store.upsert(products)
        var expected = UpsertSummary()
        expected.productsUnchanged = 2
        #expect(again == expected)
        #expect(try await store.catalog(includeUnpublished: true) == before)
        try await store.close()
    }

    @Test("Drafts and unknown handles are not found; stock leaves out unknown and draft SKUs")
    func publishedOnlyReads() async throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let store = try SQLiteStore(path: directory.file("shop.sqlite"))
        let live = Sample.figPrint()
        let draft = Sample.simple(handle: "draft-print", sku: "DRAFT-1", stock: 7, published: false)
        _ = try await store.upsert([live, draft])

        #expect(try await store.product(handle: "draft-print") == nil)
        #expect(try await store.product(handle: "no-such-product") == nil)
        #expect(try await store.product(handle: "") == nil)
        #expect(try await store.product(handle: "fig-bowl-print")?.title == "Fig in a Red Bowl")

        #expect(try await store.catalog(includeUnpublished: false).map(\.handle) == ["fig-bowl-print"])
        #expect(try await store.catalog(includeUnpublished: true).map(\.handle) == ["fig-bowl-print", "draft-print"])

        let stock = try await store.stock(skus: ["FIG-A4-NONE-MATTE", "FIG-A4-OAK-GLOSS", "DRAFT-1", "NO-SUCH-SKU"])
        #expect(stock == ["FIG-A4-NONE-MATTE": 12, "FIG-A4-OAK-GLOSS": 0])
        #expect(try await store.stock(skus: []) == [:])
        #expect(try await store.stock(skus: ["NO-SUCH-SKU"]) == [:])
        try await store.close()
    }

    @Test("A SKU of another product is refused, and nothing of that upsert is written")
    func skuTakenRollsBack() async throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let store = try SQLiteStore(path: directory.file("shop.sqlite"))
        let owner = Sample.simple(handle: "owner", sku: "SHARED-1", priceCents: 1000)
        _ = try await store.upsert([owner])
        let before = try await store.catalog(includeUnpublished: true)

        let newProduct = Sample.simple(handle: "brand-new", sku: "NEW-1")
        var changedOwner = owner
        changedOwner.title = "Owner, renamed"
        let thief = Sample.simple(handle: "thief", sku: "SHARED-1")

        await #expect(throws: StoreError.skuTaken(sku: "SHARED-1", ownerHandle: "owner", wantedBy: "thief")) {
            try await store.upsert([newProduct, changedOwner, thief])
        }
        #expect(try await store.catalog(includeUnpublished: true) == before)
        #expect(try await store.product(handle: "brand-new") == nil)
        #expect(try await store.stock(skus: ["NEW-1"]) == [:])
        #expect(try await store.product(handle: "owner")?.title == "Product owner")
        try await store.close()
    }

    @Test("Two new products with one SKU in one upsert are refused as a whole")
    func duplicateSKUInOneUpsert() async throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let store = try SQLiteStore(path: directory.file("shop.sqlite"))
        await #expect(throws: StoreError.skuTaken(sku: "SAME", ownerHandle: "first", wantedBy: "second")) {
            try await store.upsert([Sample.simple(handle: "first", sku: "SAME"), Sample.simple(handle: "second", sku: "SAME")])
        }
        #expect(try await store.catalog(includeUnpublished: true).isEmpty)
        try await store.close()
    }

    @Test("A handle that could not be a URL segment is refused, and nothing of that upsert is written")
    func invalidHandleRollsBack() async throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let store = try SQLiteStore(path: directory.file("shop.sqlite"))
        for handle in ["../evil", "a/b", "Upper", ""] {
            await #expect(throws: StoreError.invalidHandle(handle)) {
                try await store.upsert([Sample.simple(handle: "good", sku: "GOOD-1"), Sample.simple(handle: handle, sku: "BAD-1")])
            }
        }
        #expect(try await store.catalog(includeUnpublished: true).isEmpty)
        try await store.close()
    }

    @Test("A database constraint failing midway (negative stock) leaves nothing written")
    func constraintRollsBack() async throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let store = try SQLiteStore(path: directory.file("shop.sqlite"))
        let good = Sample.simple(handle: "good", sku: "GOOD-1")
        let bad = Sample.simple(handle: "bad", sku: "BAD-1", stock: -1)
        await #expect(throws: (any Error).self) {
            try await store.upsert([good, bad])
        }
        #expect(try await store.catalog(includeUnpublished: true).isEmpty)
        try await store.close()
    }

    @Test("A SKU moves between products when its old owner gives it up earlier in the same upsert")
    func skuMovesInOrder() async throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let store = try SQLiteStore(path: directory.file("shop.sqlite"))
        var first = Sample.simple(handle: "first", sku: "MOVING")
        _ = try await store.upsert([first])

        first.variants = [Variant(sku: "FIRST-2", options: [], priceCents: 100, stock: 1)]
        let second = Sample.simple(handle: "second", sku: "MOVING")
        _ = try await store.upsert([first, second])
        let catalog = try await store.catalog(includeUnpublished: true)
        #expect(catalog.map(\.handle) == ["first", "second"])
        #expect(catalog.first?.variants.map(\.sku) == ["FIRST-2"])
        #expect(catalog.last?.variants.map(\.sku) == ["MOVING"])
        try await store.close()
    }

    /// Store.upsert is documented as one transaction over all given products, so the result
    /// should not depend on their order: here the new owner comes before the old one gives it up.
    @Test("A SKU moves between products in one upsert whatever the order of the products")
    func skuMovesInAnyOrder() async throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let store = try SQLiteStore(path: directory.file("shop.sqlite"))
        var first = Sample.simple(handle: "first", sku: "MOVING")
        _ = try await store.upsert([first])

        first.variants = [Variant(sku: "FIRST-2", options: [], priceCents: 100, stock: 1)]
        let second = Sample.simple(handle: "second", sku: "MOVING")
        _ = try await store.upsert([second, first])
        let catalog = try await store.catalog(includeUnpublished: true)
        #expect(catalog.first(where: { $0.handle == "first" })?.variants.map(\.sku) == ["FIRST-2"])
        #expect(catalog.first(where: { $0.handle == "second" })?.variants.map(\.sku) == ["MOVING"])
        try await store.close()
    }

    @Test("Variants and images left out of an upsert are removed, and counted")
    func removesVariantsAndImages() async throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let store = try SQLiteStore(path: directory.file("shop.sqlite"))
        let original = Sample.figPrint()
        _ = try await store.upsert([original])

        var trimmed = original
        let removedSKU = trimmed.variants.removeLast().sku
        trimmed.images.removeLast()
        let summary = try await store.upsert([trimmed])
        var expected = UpsertSummary()
        expected.productsUpdated = 1
        expected.variantsRemoved = 1
        expected.imagesRemoved = 1
        #expect(summary == expected)
        #expect(try await store.catalog(includeUnpublished: true) == [trimmed])
        #expect(try await store.stock(skus: [removedSKU]) == [:])

        // Adding them back creates them again.
        let restored = try await store.upsert([original])
        var expectedRestore = UpsertSummary()
        expectedRestore.productsUpdated = 1
        expectedRestore.variantsCreated = 1
        expectedRestore.imagesCreated = 1
        #expect(restored == expectedRestore)
        #expect(try await store.catalog(includeUnpublished: true) == [original])
        try await store.close()
    }

    @Test("Changing one variant's price updates exactly that variant")
    func updatesOneVariant() async throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let store = try SQLiteStore(path: directory.file("shop.sqlite"))
        var product = Sample.figPrint()
        _ = try await store.upsert([product, Sample.simple(handle: "other", sku: "OTHER-1")])

        product.variants[1].priceCents = 7100
        product.images[0].alt = "A new alt text"
        let summary = try await store.upsert([product, Sample.simple(handle: "other", sku: "OTHER-1")])
        var expected = UpsertSummary()
        expected.productsUpdated = 1
        expected.productsUnchanged = 1
        expected.variantsUpdated = 1
        expected.imagesUpdated = 1
        #expect(summary == expected)
        #expect(try await store.product(handle: "fig-bowl-print") == product)
        try await store.close()
    }

    @Test("Reopening the same file keeps the catalog")
    func reopenKeepsData() async throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let path = directory.file("shop.sqlite")
        let products = [Sample.figPrint(), Sample.simple(handle: "draft-print", sku: "DRAFT-1", published: false)]
        do {
            let store = try SQLiteStore(path: path)
            _ = try await store.upsert(products)
            try await store.close()
        }
        let reopened = try SQLiteStore(path: path)
        #expect(try await reopened.catalog(includeUnpublished: true) == products)
        let summary = try await reopened.upsert(products)
        #expect(summary.productsUnchanged == 2)
        try await reopened.close()

        // And through StoreLocator, with and without the sqlite: prefix.
        for location in [path, "sqlite:" + path] {
            let store = try await StoreLocator.open(location)
            #expect(try await store.catalog(includeUnpublished: true) == products)
            try await store.close()
        }
    }
}

@Suite("StoreLocator")
struct StoreLocatorTests {
    @Test("A postgres URL is refused as unsupported without showing its password")
    func postgresRefusedAndRedacted() async throws {
        for location in ["postgres://u:secret@h/db", "postgresql://shop:secret@db.example.com:5432/shop?sslmode=require",
                         "POSTGRES://u:secret@h/db", "mysql://root:secret@localhost/shop"] {
            let error = try await #require(throws: StoreError.self) {
                try await StoreLocator.open(location)
            }
            guard case .unsupportedDatabase(let shown) = error else {
                Issue.record("expected unsupportedDatabase, got \(error)")
                continue
            }
            #expect(!shown.contains("secret"), "\(shown)")
            #expect(!error.description.contains("secret"), "\(error.description)")
            #expect(!"\(error)".contains("secret"))
        }
        #expect(StoreLocator.redacted("postgres://u:secret@h/db") == "postgres://u:***@h/db")
        #expect(StoreLocator.redacted("/var/lib/shop.sqlite") == "/var/lib/shop.sqlite")
    }

    /// libpq also takes the password as a query parameter; it must not reach messages or logs either.
    @Test("A password given as a query parameter is redacted too")
    func queryPasswordRedacted() async throws {
        let location = "postgres://db.example.com/shop?user=shop&password=secret"
        let error = try await #require(throws: StoreError.self) {
            try await StoreLocator.open(location)
        }
        #expect(!error.description.contains("secret"), "\(error.description)")
        #expect(!StoreLocator.redacted(location).contains("secret"))
    }

    @Test("A path in a folder that does not exist cannot be opened")
    func missingFolder() async throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let path = directory.file("missing/shop.sqlite")

        let direct = try #require(throws: StoreError.self) { try SQLiteStore(path: path) }
        guard case .cannotOpen(let location, let reason) = direct else {
            Issue.record("expected cannotOpen, got \(direct)")
            return
        }
        #expect(location == path)
        #expect(reason.contains("does not exist"))

        let located = try await #require(throws: StoreError.self) { try await StoreLocator.open(path) }
        guard case .cannotOpen = located else {
            Issue.record("expected cannotOpen, got \(located)")
            return
        }
        #expect(located.description.contains(path))
        #expect(!FileManager.default.fileExists(atPath: directory.file("missing")))
    }
}
