import Foundation
import GRDB
import ShopCore
@testable import ShopStore
import ShopTestSupport
import Synchronization
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
        let directory = try TemporaryFolder("store-tests")
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

    @Test("Reopening the same file keeps the catalog")
    func reopenKeepsData() async throws {
        let directory = try TemporaryFolder("store-tests")
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
    @Test("An unreachable or unsupported database URL is refused without showing its password")
    func unreachableRefusedAndRedacted() async throws {
        // Port 1 on loopback: refused at once, no network needed.
        for location in ["postgres://u:secret@127.0.0.1:1/db?sslmode=disable", "postgresql://shop:secret@127.0.0.1:1/shop?sslmode=disable",
                         "POSTGRES://u:secret@127.0.0.1:1/db?sslmode=disable", "mysql://root:secret@localhost/shop"] {
            let error = try await #require(throws: StoreError.self) {
                try await StoreLocator.open(location)
            }
            switch error {
            case .unsupportedDatabase(let shown), .cannotOpen(let shown, _):
                #expect(!shown.contains("secret"), "\(shown)")
            default:
                Issue.record("expected unsupportedDatabase or cannotOpen, got \(error)")
            }
            #expect(!error.description.contains("secret"), "\(error.description)")
            #expect(!error.description.contains("\n"), "one line: \(error.description)")
        }
        #expect(StoreLocator.redacted("postgres://u:secret@h/db") == "postgres://u:***@h/db")
        #expect(StoreLocator.redacted("/var/lib/shop.sqlite") == "/var/lib/shop.sqlite")
    }

    /// libpq also takes the password as a query parameter; it must not reach messages or logs either.
    @Test("A password given as a query parameter is redacted too")
    func queryPasswordRedacted() async throws {
        let location = "postgres://127.0.0.1:1/shop?user=shop&password=secret&sslmode=disable"
        let error = try await #require(throws: StoreError.self) {
            try await StoreLocator.open(location)
        }
        #expect(!error.description.contains("secret"), "\(error.description)")
        #expect(!StoreLocator.redacted(location).contains("secret"))
    }

    @Test("A path in a folder that does not exist cannot be opened")
    func missingFolder() async throws {
        let directory = try TemporaryFolder("store-tests")
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

/// The catalog revision (migration v4): the runtime answers from memory while it holds, so it
/// must grow with every committed change to products and variants, from any connection.
@Suite("SQLite catalog revision")
struct CatalogRevisionTests {
    @Test("Every write to products or variants, from any connection, moves the revision on; carts and reads do not")
    func growsWithEveryCatalogWrite() async throws {
        let directory = try TemporaryFolder("store-tests")
        defer { directory.remove() }
        let path = directory.file("shop.sqlite")
        let runtime = try SQLiteStore(path: path)
        // Another process's connection, as `ishop import` beside a running runtime.
        let other = try SQLiteStore(path: path)
        var last = try await runtime.catalogRevision()

        func expectMoved(_ what: String, sourceLocation: SourceLocation = #_sourceLocation) async throws {
            let now = try await runtime.catalogRevision()
            #expect(now > last, "\(what)", sourceLocation: sourceLocation)
            last = now
        }
        func expectStill(_ what: String, sourceLocation: SourceLocation = #_sourceLocation) async throws {
            #expect(try await runtime.catalogRevision() == last, "\(what)", sourceLocation: sourceLocation)
        }

        _ = try await other.upsert([Sample.simple(handle: "poster", sku: "P-1", priceCents: 1500, stock: 5)])
        try await expectMoved("a product inserted by another connection")
        _ = try await other.upsert([Sample.simple(handle: "poster", sku: "P-1", priceCents: 1500, stock: 5)])
        try await expectStill("an import that changes nothing")
        _ = try await other.upsert([Sample.simple(handle: "poster", sku: "P-1", priceCents: 1700, stock: 5)])
        try await expectMoved("a price changed by an import")
        _ = try await other.upsert([Sample.simple(handle: "poster", sku: "P-1", priceCents: 1700, stock: 5, published: false)])
        try await expectMoved("a product unpublished")
        _ = try await runtime.upsert([Sample.simple(handle: "poster", sku: "P-1", priceCents: 1700, stock: 5)])
        try await expectMoved("a product published again")
        let buyer = try await runtime.createUser(email: "buyer@example.com", passwordHash: "h", role: .customer)
        _ = try await runtime.addToCart(.user(id: buyer.id), sku: "P-1", quantity: 2, limits: CartLimits(), now: 1)
        try await expectStill("a cart line added")
        _ = try await runtime.checkout(userID: buyer.id, idempotencyKey: "k", currency: "EUR", now: 1)
        try await expectMoved("stock taken by a checkout")
        _ = try await runtime.updateVariant(sku: "P-1", stock: 9, priceCents: nil, now: 1)
        try await expectMoved("stock set by an admin")
        _ = try await runtime.upsert([Product(handle: "poster", title: "Poster", productType: "Poster", published: true, variants: [
            Variant(sku: "P-2", options: [], priceCents: 900, stock: 1),
        ])])
        try await expectMoved("a variant replaced (one deleted, one inserted)")

        _ = try await runtime.addToCart(.guest(tokenHash: "guest-1"), sku: "P-2", quantity: 1, limits: CartLimits(), now: 1)
        _ = try await runtime.product(handle: "poster")
        _ = try await runtime.stock(skus: ["P-2"])
        try await expectStill("a cart line and reads")

        // A hand-written statement, from outside ishop altogether.
        let outside = try DatabaseQueue(path: path)
        try await outside.write { db in try db.execute(sql: "DELETE FROM products WHERE handle = 'poster'") }
        try outside.close()
        try await expectMoved("a product deleted by SQL")

        // Read with its answer: the revision of the same state as the rows.
        let (product, revision) = try await runtime.productAtRevision(handle: "poster")
        #expect(product == nil && revision == last)
        let (stock, stockRevision) = try await runtime.stockAtRevision(skus: ["P-2", "nope"])
        #expect(stock.isEmpty && stockRevision == last)
        try await runtime.close()
        try await other.close()
    }

    @Test("Writes to images and tags move the revision too, from any connection")
    func imagesAndTagsMoveTheRevision() async throws {
        let directory = try TemporaryFolder("store-tests")
        defer { directory.remove() }
        let path = directory.file("shop.sqlite")
        let store = try SQLiteStore(path: path)
        _ = try await store.upsert([Sample.simple(handle: "poster", sku: "P-1")])
        let outside = try DatabaseQueue(path: path)
        let statements = [
            "INSERT INTO images (product_id, position, src, alt) SELECT id, 1, '/a.jpg', '' FROM products",
            "UPDATE images SET alt = 'A poster'",
            "DELETE FROM images",
            "INSERT INTO tags (product_id, name, position) SELECT id, 'paper', 1 FROM products",
            "UPDATE tags SET position = 2",
            "DELETE FROM tags",
        ]
        var last = try await store.catalogRevision()
        for sql in statements {
            try await outside.write { db in try db.execute(sql: sql) }
            let now = try await store.catalogRevision()
            #expect(now > last, "\(sql)")
            last = now
        }
        try outside.close()
        try await store.close()
    }

    /// Lets the children half of a catalog read wait until the products half, on the same
    /// attempt, has finished reading and a write has committed.
    actor Turns {
        private var opened: Set<Int> = []
        private var waiting: [Int: [CheckedContinuation<Void, Never>]] = [:]
        func open(_ attempt: Int) {
            opened.insert(attempt)
            waiting.removeValue(forKey: attempt)?.forEach { $0.resume() }
        }
        func wait(_ attempt: Int) async {
            if opened.contains(attempt) { return }
            await withCheckedContinuation { waiting[attempt, default: []].append($0) }
        }
    }

    @Test("A write committed between the two halves of a catalog read is never seen by half", arguments: [[0], [0, 1, 2]])
    func catalogReadIsConsistent(interleaved: [Int]) async throws {
        let directory = try TemporaryFolder("store-tests")
        defer { directory.remove() }
        let path = directory.file("shop.sqlite")
        let store = try SQLiteStore(path: path)
        var poster = Sample.simple(handle: "poster", sku: "P-1", priceCents: 1500)
        poster.tags = ["paper"]
        poster.images = [ProductImage(src: "/poster.jpg", position: 1, alt: "")]
        _ = try await store.upsert([poster, Sample.simple(handle: "card", sku: "C-1", priceCents: 300)])

        // Another process changes the title (products) and the price, a tag and an image
        // (children) in one transaction, after the products half read and before the children half.
        let outside = try DatabaseQueue(path: path)
        let turns = Turns()
        let seen = Mutex<[String]>([])
        store.catalogReadProbe.withLock {
            $0 = { half, attempt in
                seen.withLock { $0.append("\(half) \(attempt)") }
                guard interleaved.contains(attempt) else { return }
                switch half {
                case .products:
                    try? await outside.write { db in
                        try db.execute(sql: """
                            UPDATE products SET title = 'Poster \(attempt)' WHERE handle = 'poster';
                            UPDATE variants SET price_cents = \(2000 + attempt) WHERE sku = 'P-1';
                            UPDATE tags SET name = 'paper-\(attempt)';
                            UPDATE images SET alt = 'Alt \(attempt)';
                            """)
                    }
                    await turns.open(attempt)
                case .children:
                    await turns.wait(attempt)
                }
            }
        }
        let catalog = try await store.catalog(includeUnpublished: false)
        store.catalogReadProbe.withLock { $0 = nil }
        let read = try #require(catalog.first { $0.handle == "poster" })
        let last = interleaved.max()!
        #expect(read.title == "Poster \(last)")
        #expect(read.variants.map(\.priceCents) == [2000 + last])
        #expect(read.tags == ["paper-\(last)"])
        #expect(read.images.map(\.alt) == ["Alt \(last)"])
        #expect(catalog.map(\.handle) == ["poster", "card"])
        #expect(catalog == (try await store.catalog(includeUnpublished: false)), "the same as a read with nothing in between")
        let attempts = seen.withLock { $0 }
        if interleaved.count < 3 {
            // Read again once; both halves then saw the same commit.
            #expect(attempts.sorted() == ["children 0", "children 1", "products 0", "products 1"])
        } else {
            // Three torn reads: then one transaction on one connection, which calls no probe.
            #expect(attempts.sorted() == ["children 0", "children 1", "children 2", "products 0", "products 1", "products 2"])
        }
        try outside.close()
        try await store.close()
    }

    /// What another process changes between the two halves of a catalog read.
    enum ChildEdit: String, CaseIterable, Sendable {
        case tag = "UPDATE tags SET name = 'changed' WHERE name = 'paper'"
        case imageAlt = "UPDATE images SET alt = 'changed' WHERE src = '/poster.jpg'"
    }

    @Test("A tag or an image changed alone between the two halves is not seen by half either", arguments: ChildEdit.allCases)
    func childOnlyEditIsNotTorn(edit: ChildEdit) async throws {
        let directory = try TemporaryFolder("store-tests")
        defer { directory.remove() }
        let path = directory.file("shop.sqlite")
        let store = try SQLiteStore(path: path)
        // An unpublished product with children comes first (the lowest id): its rows are read
        // with the rest of the child tables and must be passed over.
        var hidden = Sample.simple(handle: "hidden", sku: "H-1", published: false)
        hidden.tags = ["paper"]
        hidden.images = [ProductImage(src: "/hidden.jpg", position: 1, alt: "")]
        var poster = Sample.simple(handle: "poster", sku: "P-1")
        poster.tags = ["paper"]
        poster.images = [ProductImage(src: "/poster.jpg", position: 1, alt: "")]
        _ = try await store.upsert([hidden, poster, Sample.simple(handle: "card", sku: "C-1")])

        let outside = try DatabaseQueue(path: path)
        let turns = Turns()
        let seen = Mutex<[String]>([])
        store.catalogReadProbe.withLock {
            $0 = { half, attempt in
                seen.withLock { $0.append("\(half) \(attempt)") }
                guard attempt == 0 else { return }
                switch half {
                case .products:
                    try? await outside.write { db in try db.execute(sql: edit.rawValue) }
                    await turns.open(attempt)
                case .children:
                    await turns.wait(attempt)
                }
            }
        }
        let catalog = try await store.catalog(includeUnpublished: false)
        store.catalogReadProbe.withLock { $0 = nil }
        #expect(seen.withLock { $0 }.sorted() == ["children 0", "children 1", "products 0", "products 1"],
                "the edit moved the revision, so the read was made again")
        #expect(catalog.map(\.handle) == ["poster", "card"])
        let read = try #require(catalog.first { $0.handle == "poster" })
        switch edit {
        case .tag: #expect(read.tags == ["changed"])
        case .imageAlt: #expect(read.images.map(\.alt) == ["changed"])
        }
        #expect(catalog == (try await store.catalog(includeUnpublished: false)))
        try outside.close()
        try await store.close()
    }

    @Test("A database of the previous schema with rows orphaned by hand-typed SQL still opens and migrates")
    func migratesDatabaseWithOrphans() async throws {
        let directory = try TemporaryFolder("store-tests")
        defer { directory.remove() }
        let path = directory.file("shop.sqlite")
        do {
            var configuration = Configuration()
            configuration.foreignKeysEnabled = false  // as the sqlite3 shell
            let old = try DatabaseQueue(path: path, configuration: configuration)
            try SQLiteSchema.migrator.migrate(old, upTo: "v4-catalog-revision")
            try await old.write { db in
                try db.execute(sql: """
                    INSERT INTO products (handle, title, created_at, updated_at) VALUES ('kept', 'Kept', '', '');
                    INSERT INTO tags (product_id, name, position) VALUES (1, 'paper', 1);
                    INSERT INTO tags (product_id, name, position) VALUES (999, 'orphan', 1);
                    INSERT INTO images (product_id, position, src) VALUES (999, 1, '/orphan.jpg');
                    """)
            }
            try old.close()
        }
        let store = try SQLiteStore(path: path)
        let applied = try await store.pool.read { db in try SQLiteSchema.migrator.appliedIdentifiers(db) }
        #expect(applied.contains("v5-catalog-reading"))
        let catalog = try await store.catalog(includeUnpublished: true)
        #expect(catalog.map(\.handle) == ["kept"])
        #expect(catalog.first?.tags == ["paper"])
        try await store.close()
    }
}
