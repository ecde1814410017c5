import Foundation
import GRDB
import ShopCore

/// The embedded default: one SQLite file in WAL mode (readers never wait for the writer).
public final class SQLiteStore: Store {
    let pool: DatabasePool
    public let path: String

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
            try Schema.migrator.migrate(pool)
        } catch let error as StoreError {
            throw error
        } catch let error as DatabaseError {
            throw StoreError.cannotOpen(location: path, reason: error.message ?? "\(error.resultCode)")
        }
        let applied = try pool.read { db in try Schema.migrator.appliedIdentifiers(db) }
        let known = Set(Schema.migrator.migrations)
        if let unknown = applied.first(where: { !known.contains($0) }) {
            throw StoreError.schemaTooNew(location: path, migration: unknown)
        }
    }

    public func close() async throws {
        try pool.close()
    }

    public func ping() async throws {
        _ = try await pool.read { db in try Int.fetchOne(db, sql: "SELECT 1") }
    }

    // MARK: Reading

    public func catalog(includeUnpublished: Bool) async throws -> [Product] {
        try await pool.read { db in
            try Self.loadProducts(db, filter: includeUnpublished ? "" : "WHERE p.published = 1", arguments: [])
        }
    }

    public func product(handle: String) async throws -> Product? {
        try await pool.read { db in
            try Self.loadProducts(db, filter: "WHERE p.handle = ? AND p.published = 1", arguments: [handle]).first
        }
    }

    public func stock(skus: [String]) async throws -> [String: Int] {
        guard !skus.isEmpty else { return [:] }
        return try await pool.read { db in
            var result: [String: Int] = [:]
            let placeholders = databaseQuestionMarks(count: skus.count)
            let rows = try Row.fetchCursor(db, sql: """
                SELECT v.sku, v.stock FROM variants v JOIN products p ON p.id = v.product_id
                WHERE p.published = 1 AND v.sku IN (\(placeholders))
                """, arguments: StatementArguments(skus))
            while let row = try rows.next() { result[row["sku"]] = row["stock"] }
            return result
        }
    }

    /// Loads products with everything they own in four queries, whatever the catalog's size.
    static func loadProducts(_ db: Database, filter: String, arguments: StatementArguments) throws -> [Product] {
        var products: [Int64: Product] = [:]
        var order: [Int64] = []
        let productRows = try Row.fetchCursor(db, sql: """
            SELECT p.* FROM products p \(filter) ORDER BY p.id
            """, arguments: arguments)
        while let row = try productRows.next() {
            let id: Int64 = row["id"]
            let optionNames = [row["option1_name"], row["option2_name"], row["option3_name"]].compactMap { $0 as String? }
            products[id] = Product(
                handle: row["handle"], title: row["title"], bodyHTML: row["body_html"], vendor: row["vendor"],
                productType: row["product_type"], tags: [], published: row["published"],
                seoTitle: row["seo_title"], seoDescription: row["seo_description"], optionNames: optionNames)
            order.append(id)
        }
        guard !order.isEmpty else { return [] }
        // For one product, restrict the child queries; for the whole catalog, read them whole.
        let childFilter = order.count == 1 ? "WHERE product_id = \(order[0])" : ""

        let variantRows = try Row.fetchCursor(db, sql: "SELECT * FROM variants \(childFilter) ORDER BY product_id, position")
        while let row = try variantRows.next() {
            let productID: Int64 = row["product_id"]
            guard products[productID] != nil else { continue }
            let options = [row["option1"], row["option2"], row["option3"]].compactMap { $0 as String? }
            let policyText: String = row["inventory_policy"]
            products[productID]!.variants.append(Variant(
                sku: row["sku"], options: options, priceCents: row["price_cents"], compareAtCents: row["compare_at_cents"],
                stock: row["stock"], inventoryPolicy: InventoryPolicy(rawValue: policyText) ?? .deny, grams: row["grams"],
                requiresShipping: row["requires_shipping"], taxable: row["taxable"], barcode: row["barcode"],
                imageSrc: row["image_src"], weightUnit: row["weight_unit"]))
        }
        let imageRows = try Row.fetchCursor(db, sql: "SELECT * FROM images \(childFilter) ORDER BY product_id, position")
        while let row = try imageRows.next() {
            let productID: Int64 = row["product_id"]
            guard products[productID] != nil else { continue }
            products[productID]!.images.append(ProductImage(src: row["src"], position: row["position"], alt: row["alt"]))
        }
        let tagRows = try Row.fetchCursor(db, sql: "SELECT * FROM tags \(childFilter) ORDER BY product_id, position")
        while let row = try tagRows.next() {
            let productID: Int64 = row["product_id"]
            guard products[productID] != nil else { continue }
            products[productID]!.tags.append(row["name"])
        }
        return order.map { products[$0]! }
    }

    // MARK: Writing

    public func upsert(_ incoming: [Product]) async throws -> UpsertSummary {
        try await pool.write { db in
            var summary = UpsertSummary()
            let now = ISO8601DateFormatter().string(from: Date())
            for product in incoming { try Self.validate(product) }
            // SKUs given up by one product first: another product of the same call may take them,
            // whatever order the products come in.
            for product in incoming {
                let keep = Set(product.variants.map(\.sku))
                let dropped = try String.fetchAll(db, sql: """
                    SELECT v.sku FROM variants v JOIN products p ON p.id = v.product_id WHERE p.handle = ?
                    """, arguments: [product.handle]).filter { !keep.contains($0) }
                for sku in dropped {
                    try db.execute(sql: "DELETE FROM variants WHERE sku = ?", arguments: [sku])
                    summary.variantsRemoved += 1
                }
            }
            for product in incoming {
                try Self.upsert(product, db: db, now: now, summary: &summary)
            }
            return summary
        }
    }

    /// The shape rules the schema relies on, checked before anything is written.
    static func validate(_ product: Product) throws {
        guard Handle.isValid(product.handle) else { throw StoreError.invalidHandle(product.handle) }
        func invalid(_ reason: String) -> StoreError { .invalidProduct(handle: product.handle, reason: reason) }
        guard product.optionNames.count <= 3 else { throw invalid("it has \(product.optionNames.count) options; at most 3") }
        guard !product.variants.isEmpty else { throw invalid("it has no variant") }
        for variant in product.variants where variant.options.count != product.optionNames.count {
            throw invalid("variant \(variant.sku) has \(variant.options.count) option values for \(product.optionNames.count) options")
        }
        guard Set(product.variants.map(\.sku)).count == product.variants.count else { throw invalid("two variants share a SKU") }
        guard Set(product.images.map(\.position)).count == product.images.count else { throw invalid("two images share a position") }
        guard Set(product.tags).count == product.tags.count else { throw invalid("a tag is given twice") }
    }

    static func upsert(_ product: Product, db: Database, now: String, summary: inout UpsertSummary) throws {
        let existingID = try Int64.fetchOne(db, sql: "SELECT id FROM products WHERE handle = ?", arguments: [product.handle])
        let existing = try existingID.flatMap {
            try loadProducts(db, filter: "WHERE p.id = ?", arguments: [$0]).first
        }
        if let existing, existing == product {
            summary.productsUnchanged += 1
            return
        }

        // A SKU belongs to exactly one product: refuse to move it silently from another.
        for variant in product.variants {
            if let owner = try String.fetchOne(db, sql: """
                SELECT p.handle FROM variants v JOIN products p ON p.id = v.product_id
                WHERE v.sku = ? AND p.handle <> ?
                """, arguments: [variant.sku, product.handle])
            {
                throw StoreError.skuTaken(sku: variant.sku, ownerHandle: owner, wantedBy: product.handle)
            }
        }

        let names = product.optionNames + Array(repeating: nil as String?, count: 3 - product.optionNames.count).map { $0 }
        let productArguments: StatementArguments = [
            product.title, product.bodyHTML, product.vendor, product.productType, product.published,
            product.seoTitle, product.seoDescription, names[0], names[1], names[2], now,
        ]
        let productID: Int64
        if let existingID {
            try db.execute(sql: """
                UPDATE products SET title = ?, body_html = ?, vendor = ?, product_type = ?, published = ?,
                seo_title = ?, seo_description = ?, option1_name = ?, option2_name = ?, option3_name = ?, updated_at = ?
                WHERE id = ?
                """, arguments: productArguments + [existingID])
            productID = existingID
            summary.productsUpdated += 1
        } else {
            try db.execute(sql: """
                INSERT INTO products (title, body_html, vendor, product_type, published, seo_title, seo_description,
                option1_name, option2_name, option3_name, updated_at, handle, created_at)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                """, arguments: productArguments + [product.handle, now])
            productID = db.lastInsertedRowID
            summary.productsCreated += 1
        }

        // Variants, by SKU (those the product gave up are already gone).
        let oldVariants = Dictionary(uniqueKeysWithValues: (existing?.variants ?? []).map { ($0.sku, $0) })
        for (index, variant) in product.variants.enumerated() {
            let options = variant.options.map { $0 as String? } + Array(repeating: nil as String?, count: 3 - variant.options.count)
            let arguments: StatementArguments = [
                productID, index + 1, options[0], options[1], options[2], variant.priceCents, variant.compareAtCents,
                variant.stock, variant.inventoryPolicy.rawValue, variant.grams, variant.requiresShipping, variant.taxable,
                variant.barcode, variant.imageSrc, variant.weightUnit, now, variant.sku,
            ]
            if let old = oldVariants[variant.sku] {
                let oldPosition = existing?.variants.firstIndex(of: old)
                guard old != variant || oldPosition != index else { continue }
                try db.execute(sql: """
                    UPDATE variants SET product_id = ?, position = ?, option1 = ?, option2 = ?, option3 = ?, price_cents = ?,
                    compare_at_cents = ?, stock = ?, inventory_policy = ?, grams = ?, requires_shipping = ?, taxable = ?,
                    barcode = ?, image_src = ?, weight_unit = ?, updated_at = ? WHERE sku = ?
                    """, arguments: arguments)
                summary.variantsUpdated += 1
            } else {
                try db.execute(sql: """
                    INSERT INTO variants (product_id, position, option1, option2, option3, price_cents, compare_at_cents,
                    stock, inventory_policy, grams, requires_shipping, taxable, barcode, image_src, weight_unit, updated_at, sku)
                    VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                    """, arguments: arguments)
                summary.variantsCreated += 1
            }
        }

        // Images, compared by source: rewritten whole, counted by what really changed.
        let oldImages = Dictionary((existing?.images ?? []).map { ($0.src, $0) }, uniquingKeysWith: { first, _ in first })
        let newImageSources = Set(product.images.map(\.src))
        summary.imagesRemoved += oldImages.keys.filter { !newImageSources.contains($0) }.count
        for image in product.images {
            if let old = oldImages[image.src] {
                if old != image { summary.imagesUpdated += 1 }
            } else {
                summary.imagesCreated += 1
            }
        }
        try db.execute(sql: "DELETE FROM images WHERE product_id = ?", arguments: [productID])
        for image in product.images {
            try db.execute(sql: "INSERT INTO images (product_id, position, src, alt) VALUES (?, ?, ?, ?)",
                           arguments: [productID, image.position, image.src, image.alt])
        }

        try db.execute(sql: "DELETE FROM tags WHERE product_id = ?", arguments: [productID])
        for (index, tag) in product.tags.enumerated() {
            try db.execute(sql: "INSERT INTO tags (product_id, name, position) VALUES (?, ?, ?)", arguments: [productID, tag, index])
        }

        // The product's Type is its collection.
        try db.execute(sql: "DELETE FROM product_collections WHERE product_id = ?", arguments: [productID])
        let collectionHandle = Handle.slug(product.productType)
        if !collectionHandle.isEmpty {
            try db.execute(sql: """
                INSERT INTO collections (handle, title) VALUES (?, ?) ON CONFLICT(handle) DO NOTHING
                """, arguments: [collectionHandle, product.productType])
            try db.execute(sql: """
                INSERT INTO product_collections (product_id, collection_id)
                SELECT ?, id FROM collections WHERE handle = ?
                """, arguments: [productID, collectionHandle])
        }
    }
}
