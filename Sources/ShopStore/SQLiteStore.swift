import Foundation
import GRDB
import ShopCore
import Synchronization

/// The embedded default: one SQLite file in WAL mode (readers never wait for the writer).
public final class SQLiteStore: Store {
    let pool: DatabasePool
    public let path: String
    /// Opened after the migrations, which make the table it reads.
    private let revisionReader: SQLiteRevisionReader

    public init(path: String) throws {
        self.path = path
        var config = Configuration()
        // Another process (a running `ishop serve`) may hold the write lock briefly.
        config.busyMode = .timeout(5)
        config.foreignKeysEnabled = true
        config.label = "ishop"
        do {
            let directory = URL(fileURLWithPath: path).deletingLastPathComponent().path
            if !FileManager.default.fileExists(atPath: directory) {
                throw StoreError.cannotOpen(location: path, reason: "folder \(directory) does not exist")
            }
            pool = try DatabasePool(path: path, configuration: config)
            let known = Set(SQLiteSchema.migrator.migrations)
            let applied = try pool.read { db in try SQLiteSchema.migrator.appliedIdentifiers(db) }
            if let unknown = applied.first(where: { !known.contains($0) }) {
                throw StoreError.schemaTooNew(location: path, migration: unknown)
            }
            try SQLiteSchema.migrator.migrate(pool)
            revisionReader = try SQLiteRevisionReader(path: path)
        } catch let error as StoreError {
            throw error
        } catch let error as DatabaseError {
            throw StoreError.cannotOpen(location: path, reason: error.message ?? "\(error.resultCode)")
        }
    }

    public func close() async throws {
        revisionReader.close()
        try pool.close()
    }

    public func ping() async throws {
        _ = try await pool.read { db in try Int.fetchOne(db, sql: "SELECT 1") }
    }

    // MARK: Reading

    /// The whole catalog, read in two halves on two connections at once: the products (most of
    /// the bytes: their descriptions) on one, their variants, images and tags on the other. On
    /// one connection this was a rebuild's longest stage, one core busy and the other idle.
    /// Each half reads the catalog revision in its own read transaction; the revision moves with
    /// every committed change to any of the four tables (migrations v4 and v5), so equal
    /// revisions mean both halves saw the same commit. When a commit landed between the two
    /// halves' snapshots, the read is made again, and after three such tries in one transaction
    /// on one connection. Either way no build ever sees half of an import.
    public func catalog(includeUnpublished: Bool) async throws -> [Product] {
        let filter = includeUnpublished ? "" : "WHERE p.published = 1"
        let probe = catalogReadProbe.withLock { $0 }
        for attempt in 0..<3 {
            let pool = self.pool
            async let childHalf: ChildRows = {
                await probe?(.children, attempt)
                return try await pool.read { db in try Self.readChildRows(db) }
            }()
            let productHalf = try await pool.read { db in try Self.readProductRows(db, filter: filter) }
            await probe?(.products, attempt)
            let children = try await childHalf
            // No revision row (a database someone trimmed by hand): nothing vouches, so one transaction.
            guard let revision = productHalf.revision, children.revision != nil else { break }
            if revision == children.revision {
                // Consumed: a second reference to the products' array would make the first
                // `set` copy all of them.
                var assembler = CatalogAssembler(rows: consume productHalf)
                children.variants.forEach { assembler.set(variants: $0.1, productID: $0.0) }
                children.images.forEach { assembler.set(images: $0.1, productID: $0.0) }
                children.tags.forEach { assembler.set(tags: $0.1, productID: $0.0) }
                return assembler.result
            }
        }
        return try await pool.read { db in try Self.loadProducts(db, filter: filter, arguments: [], wholeCatalog: true) }
    }

    /// Which half of the catalog read a probe is called from.
    enum CatalogHalf: Sendable { case products, children }
    /// A test's hook into `catalog`: called for the children half before its read begins and for
    /// the products half after its read ended, with the attempt (from 0), so a test can commit a
    /// write between the two halves' snapshots.
    let catalogReadProbe = Mutex<(@Sendable (CatalogHalf, Int) async -> Void)?>(nil)

    struct ProductRows: Sendable {
        /// nil when the database has no revision row.
        var revision: Int64?
        var products: [Product] = []
        var ids: [Int64] = []
    }

    /// Children grouped by product, in product id order: putting a group into its product is one
    /// assignment, and the grouping is done on the children's connection while the products are read.
    struct ChildRows: Sendable {
        var revision: Int64?
        var variants: [(Int64, [Variant])] = []
        var images: [(Int64, [ProductImage])] = []
        var tags: [(Int64, [String])] = []
    }

    static func readProductRows(_ db: Database, filter: String) throws -> ProductRows {
        var half = ProductRows(revision: try revisionIfAny(db))
        let rows = try SQLiteRows(db.makeStatement(sql: "SELECT \(productColumns) FROM products p \(filter) ORDER BY p.id"), in: db)
        while try rows.next() {
            half.products.append(product(rows))
            half.ids.append(Int64(rows.integer(0)))
        }
        return half
    }

    static func readChildRows(_ db: Database) throws -> ChildRows {
        func grouped<Child>(_ rows: SQLiteRows, _ child: (SQLiteRows) -> Child) throws -> [(Int64, [Child])] {
            var groups: [(Int64, [Child])] = []
            while try rows.next() {
                let id = Int64(rows.integer(0))
                if let last = groups.indices.last, groups[last].0 == id {
                    groups[last].1.append(child(rows))
                } else {
                    groups.append((id, [child(rows)]))
                }
            }
            return groups
        }
        var half = ChildRows(revision: try revisionIfAny(db))
        half.variants = try grouped(SQLiteRows(db.makeStatement(sql: "SELECT \(variantColumns) FROM variants ORDER BY product_id, position"), in: db), variant)
        half.images = try grouped(SQLiteRows(db.makeStatement(sql: "SELECT \(imageColumns) FROM images ORDER BY product_id, position"), in: db)) {
            ProductImage(src: $0.text(1), position: $0.integer(2), alt: $0.text(3))
        }
        half.tags = try grouped(SQLiteRows(db.makeStatement(sql: "SELECT \(tagColumns) FROM tags ORDER BY product_id, position"), in: db)) { $0.text(1) }
        return half
    }

    public func product(handle: String) async throws -> Product? {
        try readOnCallingThread { db in try Self.loadPublishedProduct(db, handle: handle) }
    }

    /// The runtime's small reads run on the calling thread rather than hopping to GRDB's reader
    /// queue and back: two thread wake-ups cost more than the read itself (tens of microseconds
    /// through prepared statements), and in WAL mode a reader never waits for the writer, so the
    /// task's thread is not held for long. `transaction: false` for a single statement, which
    /// reads a consistent state by itself (BEGIN and COMMIT cost more than such a read).
    func readOnCallingThread<T>(transaction: Bool = true, _ read: (Database) throws -> T) throws -> T {
        transaction ? try pool.read(read) : try pool.unsafeRead(read)
    }

    public func stock(skus: [String]) async throws -> [String: Int] {
        guard !skus.isEmpty else { return [:] }
        // Prepared once per connection and per number of SKUs (the API asks for at most 200).
        return try readOnCallingThread(transaction: false) { db in
            var result: [String: Int] = [:]
            let statement = try db.cachedStatement(sql: """
                SELECT v.sku, v.stock FROM variants v JOIN products p ON p.id = v.product_id
                WHERE p.published = 1 AND v.sku IN (\(databaseQuestionMarks(count: skus.count)))
                """)
            let rows = try Row.fetchCursor(statement, arguments: StatementArguments(skus))
            while let row = try rows.next() { result[row[0]] = row[1] }
            return result
        }
    }

    /// Reads the revision with an already prepared statement; `db` may be inside a transaction or not.
    private static func revision(_ db: Database) throws -> Int64 {
        try revisionIfAny(db) ?? 0
    }

    /// The revision, or nil when its row is missing.
    private static func revisionIfAny(_ db: Database) throws -> Int64? {
        let rows = try SQLiteRows(db.cachedStatement(sql: SQLiteRevisionReader.sql), in: db)
        guard try rows.next() else { return nil }
        let revision = Int64(rows.integer(0))
        while try rows.next() {}
        return revision
    }

    /// Loads products with everything they own in four queries, whatever the catalog's size.
    /// `wholeCatalog`: the filter selects (nearly) everything, so the child tables are read whole
    /// rather than by a list of product ids.
    static func loadProducts(_ db: Database, filter: String, arguments: StatementArguments, wholeCatalog: Bool = false) throws -> [Product] {
        var assembler = CatalogAssembler()
        let productRows = try SQLiteRows(
            db.makeStatement(sql: "SELECT \(productColumns) FROM products p \(filter) ORDER BY p.id"), arguments: arguments, in: db)
        while try productRows.next() { assembler.add(product: product(productRows), id: Int64(productRows.integer(0))) }
        let ids = assembler.productIDs
        guard !ids.isEmpty else { return [] }
        // Ids come from the database itself (integers), so they may stand in the SQL text.
        let childFilter = wholeCatalog ? "" : "WHERE product_id IN (\(ids.map(String.init).joined(separator: ",")))"
        try readChildren(
            variants: SQLiteRows(db.makeStatement(sql: "SELECT \(variantColumns) FROM variants \(childFilter) ORDER BY product_id, position"), in: db),
            images: SQLiteRows(db.makeStatement(sql: "SELECT \(imageColumns) FROM images \(childFilter) ORDER BY product_id, position"), in: db),
            tags: SQLiteRows(db.makeStatement(sql: "SELECT \(tagColumns) FROM tags \(childFilter) ORDER BY product_id, position"), in: db),
            into: &assembler)
        return assembler.result
    }

    /// The runtime's read of one product: the same rows as `loadProducts`, through statements
    /// prepared once per connection. Preparing is most of the cost of such a small read (SQLite's
    /// parser and GRDB's authorizer, which works out what each statement touches).
    static func loadPublishedProduct(_ db: Database, handle: String) throws -> Product? {
        var assembler = CatalogAssembler()
        let productRows = try SQLiteRows(
            db.cachedStatement(sql: "SELECT \(productColumns) FROM products p WHERE p.handle = ? AND p.published = 1"),
            arguments: [handle], in: db)
        guard try productRows.next() else { return nil }
        let id = Int64(productRows.integer(0))
        assembler.add(product: product(productRows), id: id)
        // The handle is unique: step past the end so the statement is reset now.
        while try productRows.next() {}
        try readChildren(
            variants: SQLiteRows(db.cachedStatement(sql: "SELECT \(variantColumns) FROM variants WHERE product_id = ? ORDER BY position"), arguments: [id], in: db),
            images: SQLiteRows(db.cachedStatement(sql: "SELECT \(imageColumns) FROM images WHERE product_id = ? ORDER BY position"), arguments: [id], in: db),
            tags: SQLiteRows(db.cachedStatement(sql: "SELECT \(tagColumns) FROM tags WHERE product_id = ? ORDER BY position"), arguments: [id], in: db),
            into: &assembler)
        return assembler.result.first
    }

    // Columns named in the queries and read by position: reading a row by column name searches
    // its columns each time, and a build reads a quarter of a million rows.
    static let productColumns = """
        p.id, p.handle, p.title, p.body_html, p.vendor, p.product_type, p.published, p.seo_title, \
        p.seo_description, p.option1_name, p.option2_name, p.option3_name
        """
    static let variantColumns = """
        product_id, sku, option1, option2, option3, price_cents, compare_at_cents, stock, inventory_policy, \
        grams, requires_shipping, taxable, barcode, image_src, weight_unit
        """
    static let imageColumns = "product_id, src, position, alt"
    static let tagColumns = "product_id, name"

    private static func product(_ row: SQLiteRows) -> Product {
        Product(
            handle: row.text(1), title: row.text(2), bodyHTML: row.text(3), vendor: row.text(4),
            productType: row.text(5), tags: [], published: row.flag(6),
            seoTitle: row.text(7), seoDescription: row.text(8),
            optionNames: CatalogAssembler.options([row.optionalText(9), row.optionalText(10), row.optionalText(11)]))
    }

    private static func variant(_ row: SQLiteRows) -> Variant {
        Variant(
            sku: row.text(1), options: CatalogAssembler.options([row.optionalText(2), row.optionalText(3), row.optionalText(4)]),
            priceCents: row.integer(5), compareAtCents: row.optionalInteger(6), stock: row.integer(7),
            inventoryPolicy: InventoryPolicy(rawValue: row.text(8)) ?? .deny, grams: row.integer(9),
            requiresShipping: row.flag(10), taxable: row.flag(11), barcode: row.text(12),
            imageSrc: row.text(13), weightUnit: row.text(14))
    }

    private static func readChildren(variants: SQLiteRows, images: SQLiteRows, tags: SQLiteRows, into assembler: inout CatalogAssembler) throws {
        while try variants.next() {
            assembler.add(variant: variant(variants), productID: Int64(variants.integer(0)))
        }
        while try images.next() {
            assembler.add(image: ProductImage(src: images.text(1), position: images.integer(2), alt: images.text(3)),
                          productID: Int64(images.integer(0)))
        }
        while try tags.next() {
            assembler.add(tag: tags.text(1), productID: Int64(tags.integer(0)))
        }
    }

    // MARK: Writing

    public func upsert(manifest: UpsertManifest, batches: any ProductBatches) async throws -> UpsertSummary {
        try await pool.write { db in
            var summary = UpsertSummary()
            let now = ISO8601DateFormatter().string(from: Date())
            var stored: [(handle: String, sku: String)] = []
            for handles in Array(manifest.skusByHandle.keys).chunks(of: 500) {
                let rows = try Row.fetchCursor(db, sql: """
                    SELECT p.handle, v.sku FROM variants v JOIN products p ON p.id = v.product_id
                    WHERE p.handle IN (\(databaseQuestionMarks(count: handles.count)))
                    """, arguments: StatementArguments(Array(handles)))
                while let row = try rows.next() { stored.append((row["handle"], row["sku"])) }
            }
            let dropped = CatalogChanges.droppedSKUs(manifest: manifest, stored: stored)
            for sku in dropped { try db.cachedStatement(sql: "DELETE FROM variants WHERE sku = ?").execute(arguments: [sku]) }
            summary.variantsRemoved = dropped.count
            // A variant that is gone can no longer be bought: announced as sold out (a later
            // product of this import that takes the SKU announces its own stock).
            var stockChanges: [(sku: String, stock: Int)] = dropped.map { ($0, 0) }

            while let batch = try batches.next() {
                try CatalogChanges.checkManifest(manifest, covers: batch)
                var existing: [String: Product] = [:]
                var owners: [String: String] = [:]
                for handles in batch.map(\.handle).chunks(of: 500) {
                    for product in try Self.loadProducts(
                        db, filter: "WHERE p.handle IN (\(databaseQuestionMarks(count: handles.count)))",
                        arguments: StatementArguments(Array(handles)))
                    {
                        existing[product.handle] = product
                    }
                }
                for skus in batch.flatMap({ $0.variants.map(\.sku) }).chunks(of: 500) {
                    let rows = try Row.fetchCursor(db, sql: """
                        SELECT v.sku, p.handle FROM variants v JOIN products p ON p.id = v.product_id
                        WHERE v.sku IN (\(databaseQuestionMarks(count: skus.count)))
                        """, arguments: StatementArguments(Array(skus)))
                    while let row = try rows.next() { owners[row["sku"]] = row["handle"] }
                }
                let changes = try CatalogChanges(incoming: batch, existing: existing, owners: owners)
                for step in changes.steps { try Self.apply(step, db: db, now: now) }
                summary.add(changes.summary)
                stockChanges += StockChanges.imported(batch, existing: existing)
            }
            try Self.recordStockEvents(stockChanges, db: db)
            return summary
        }
    }

    static let productID = "(SELECT id FROM products WHERE handle = ?)"

    /// Statements are compiled once per write and reused for every row (GRDB's statement cache).
    static func apply(_ step: CatalogChanges.Step, db: Database, now: String) throws {
        switch step {
        case .insertProduct(let product), .updateProduct(let product):
            let names = CatalogAssembler.columns(product.optionNames)
            let fields: StatementArguments = [
                product.title, product.bodyHTML, product.vendor, product.productType, product.published,
                product.seoTitle, product.seoDescription, names[0], names[1], names[2], now, product.handle,
            ]
            if case .insertProduct = step {
                try db.cachedStatement(sql: """
                    INSERT INTO products (title, body_html, vendor, product_type, published, seo_title, seo_description,
                    option1_name, option2_name, option3_name, updated_at, handle, created_at)
                    VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                    """).execute(arguments: fields + [now])
            } else {
                try db.cachedStatement(sql: """
                    UPDATE products SET title = ?, body_html = ?, vendor = ?, product_type = ?, published = ?,
                    seo_title = ?, seo_description = ?, option1_name = ?, option2_name = ?, option3_name = ?, updated_at = ?
                    WHERE handle = ?
                    """).execute(arguments: fields)
            }
        case .insertVariant(let handle, let position, let variant), .updateVariant(let handle, let position, let variant):
            let options = CatalogAssembler.columns(variant.options)
            let fields: StatementArguments = [
                handle, position, options[0], options[1], options[2], variant.priceCents, variant.compareAtCents,
                variant.stock, variant.inventoryPolicy.rawValue, variant.grams, variant.requiresShipping, variant.taxable,
                variant.barcode, variant.imageSrc, variant.weightUnit, now, variant.sku,
            ]
            if case .insertVariant = step {
                try db.cachedStatement(sql: """
                    INSERT INTO variants (product_id, position, option1, option2, option3, price_cents, compare_at_cents,
                    stock, inventory_policy, grams, requires_shipping, taxable, barcode, image_src, weight_unit, updated_at, sku)
                    VALUES (\(productID), ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                    """).execute(arguments: fields)
            } else {
                try db.cachedStatement(sql: """
                    UPDATE variants SET product_id = \(productID), position = ?, option1 = ?, option2 = ?, option3 = ?,
                    price_cents = ?, compare_at_cents = ?, stock = ?, inventory_policy = ?, grams = ?, requires_shipping = ?,
                    taxable = ?, barcode = ?, image_src = ?, weight_unit = ?, updated_at = ? WHERE sku = ?
                    """).execute(arguments: fields)
            }
        case .replaceImages(let handle, let images):
            try db.cachedStatement(sql: "DELETE FROM images WHERE product_id = \(productID)").execute(arguments: [handle])
            for image in images {
                try db.cachedStatement(sql: "INSERT INTO images (product_id, position, src, alt) VALUES (\(productID), ?, ?, ?)")
                    .execute(arguments: [handle, image.position, image.src, image.alt])
            }
        case .replaceTags(let handle, let tags):
            try db.cachedStatement(sql: "DELETE FROM tags WHERE product_id = \(productID)").execute(arguments: [handle])
            for (index, tag) in tags.enumerated() {
                try db.cachedStatement(sql: "INSERT INTO tags (product_id, name, position) VALUES (\(productID), ?, ?)")
                    .execute(arguments: [handle, tag, index])
            }
        }
    }
}

extension SQLiteStore: CatalogRevisions {
    public func catalogRevision() async throws -> Int64 {
        try revisionReader.read()
    }

    public func productAtRevision(handle: String) async throws -> (product: Product?, revision: Int64) {
        try readOnCallingThread { db in
            let revision = try Self.revision(db)
            return (try Self.loadPublishedProduct(db, handle: handle), revision)
        }
    }

    public func stockAtRevision(skus: [String]) async throws -> (stock: [String: Int], revision: Int64) {
        guard !skus.isEmpty else { return ([:], try await catalogRevision()) }
        // One statement, so the revision and the stock are read in the same state of the file.
        // The revision's row comes even when no SKU is found (then with NULLs beside it).
        return try readOnCallingThread(transaction: false) { db in
            var stock: [String: Int] = [:]
            var revision: Int64 = 0
            let rows = try SQLiteRows(db.cachedStatement(sql: """
                SELECT r.revision, s.sku, s.stock FROM catalog_revision r LEFT JOIN (
                    SELECT v.sku, v.stock FROM variants v JOIN products p ON p.id = v.product_id
                    WHERE p.published = 1 AND v.sku IN (\(databaseQuestionMarks(count: skus.count)))
                ) s ON 1
                WHERE r.id = 1
                """), arguments: StatementArguments(skus), in: db)
            while try rows.next() {
                revision = Int64(rows.integer(0))
                if let count = rows.optionalInteger(2) { stock[rows.text(1)] = count }
            }
            return (stock, revision)
        }
    }
}

