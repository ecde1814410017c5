import Foundation
import Logging
import NIOCore
import NIOPosix
import NIOSSL
import PostgresNIO
import ShopCore

/// The production store: PostgreSQL through PostgresNIO's connection pool, so several runtimes
/// can share one catalog. Same contract as SQLiteStore, same migrations in meaning.
public final class PostgresStore: Store, Sendable {
    let client: PostgresClient
    /// Runs the pool for as long as the store is open; `close()` ends it.
    private let poolTask: Task<Void, Never>
    public let location: String
    let logger: Logger
    /// For connections of our own outside the pool: the stock events listener (LISTEN needs one
    /// connection held for as long as it listens).
    let connectionConfiguration: PostgresConnection.Configuration

    /// Every writer of the catalog takes this transaction-level lock first, so two imports on
    /// two machines never interleave their reads and writes.
    static let catalogWriteLock: Int64 = 0x6973_686F_7063_6174  // "ishopcat" in ASCII: any fixed key, ours alone

    public init(url: String, logger: Logger = Logger(label: "ishop.postgres")) async throws {
        let redacted = StoreLocator.redacted(url)
        location = redacted
        self.logger = logger
        let target = try PostgresURL(url)

        // One direct connection first: it fails fast with the server's own reason (a pool would
        // keep retrying), and it runs the migrations before any other query.
        let probe: PostgresConnection
        connectionConfiguration = try target.connectionConfiguration()
        do {
            probe = try await PostgresConnection.connect(configuration: connectionConfiguration, id: 0, logger: logger)
        } catch {
            throw StoreError.cannotOpen(location: redacted, reason: Self.reason(error))
        }
        do {
            try await PostgresSchema.migrate(probe, location: redacted, logger: logger)
            try await probe.close()
        } catch {
            try? await probe.close()
            if let error = error as? StoreError { throw error }
            throw StoreError.cannotOpen(location: redacted, reason: Self.reason(error))
        }

        let client = PostgresClient(configuration: try target.clientConfiguration(), backgroundLogger: logger)
        self.client = client
        poolTask = Task { await client.run() }
    }

    public func close() async throws {
        poolTask.cancel()
        await poolTask.value
    }

    public func ping() async throws {
        try await client.query("SELECT 1", logger: logger)
    }

    /// One line a shop owner can act on, instead of a stack of NIO errors.
    static func reason(_ error: Error) -> String {
        if let error = error as? PostgresTransactionError {
            return reason(error.closureError ?? error.beginError ?? error.commitError ?? error.rollbackError ?? error)
        }
        if let error = error as? PSQLError {
            if let message = error.serverInfo?[.message] { return message }
            if let underlying = error.underlying { return reason(underlying) }
            return "\(error.code)"
        }
        if let error = error as? NIOConnectionError {
            guard let first = error.connectionErrors.first else { return "cannot resolve the host name \(error.host)" }
            return "cannot connect to \(error.host):\(error.port): \(reason(first.error))"
        }
        if let error = error as? IOError { return String(cString: strerror(error.errnoCode)) }
        if let error = error as? StoreError { return "\(error)" }
        return "\(error)"
    }

    // MARK: Reading

    public func catalog(includeUnpublished: Bool) async throws -> [Product] {
        try await readSnapshot { connection, logger in
            try await Self.loadProducts(connection, logger: logger, selection: includeUnpublished ? .all : .published)
        }
    }

    public func product(handle: String) async throws -> Product? {
        try await readSnapshot { connection, logger in
            try await Self.loadProducts(connection, logger: logger, selection: .publishedHandle(handle)).first
        }
    }

    /// A read-only REPEATABLE READ transaction: the four queries of a catalog read see one snapshot,
    /// so a build never sees half of an import.
    func readSnapshot<T: Sendable>(_ body: (PostgresConnection, Logger) async throws -> T) async throws -> T {
        let logger = self.logger
        return try await client.withConnection { connection in
            try await connection.query("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY", logger: logger)
            do {
                let result = try await body(connection, logger)
                try await connection.query("COMMIT", logger: logger)
                return result
            } catch {
                _ = try? await connection.query("ROLLBACK", logger: logger)
                throw error
            }
        }
    }

    public func stock(skus: [String]) async throws -> [String: Int] {
        guard !skus.isEmpty else { return [:] }
        let rows = try await client.query("""
            SELECT v.sku, v.stock FROM variants v JOIN products p ON p.id = v.product_id
            WHERE p.published AND v.sku = ANY(\(skus))
            """, logger: logger)
        var result: [String: Int] = [:]
        for try await (sku, stock) in rows.decode((String, Int).self) { result[sku] = stock }
        return result
    }

    enum Selection {
        case all, published
        case publishedHandle(String)
        case handles([String])
    }

    /// The catalog, or a part of it, in four queries.
    static func loadProducts(_ connection: PostgresConnection, logger: Logger, selection: Selection) async throws -> [Product] {
        let query: PostgresQuery = switch selection {
        case .all: "SELECT * FROM products ORDER BY id"
        case .published: "SELECT * FROM products WHERE published ORDER BY id"
        case .publishedHandle(let handle): "SELECT * FROM products WHERE published AND handle = \(handle)"
        case .handles(let handles): "SELECT * FROM products WHERE handle = ANY(\(handles)) ORDER BY id"
        }
        var assembler = CatalogAssembler()
        let productRows = try await connection.query(query, logger: logger)
        for try await row in productRows {
            let r = row.makeRandomAccess()
            assembler.add(product: Product(
                handle: try r["handle"].decode(String.self), title: try r["title"].decode(String.self),
                bodyHTML: try r["body_html"].decode(String.self), vendor: try r["vendor"].decode(String.self),
                productType: try r["product_type"].decode(String.self), tags: [], published: try r["published"].decode(Bool.self),
                seoTitle: try r["seo_title"].decode(String.self), seoDescription: try r["seo_description"].decode(String.self),
                optionNames: CatalogAssembler.options([
                    try r["option1_name"].decode(String?.self), try r["option2_name"].decode(String?.self),
                    try r["option3_name"].decode(String?.self),
                ])), id: try r["id"].decode(Int64.self))
        }
        let ids = assembler.productIDs
        guard !ids.isEmpty else { return [] }
        // Ids come from the database itself (integers), so they may stand in the SQL text.
        let wholeCatalog: Bool = switch selection {
        case .all, .published: true
        case .publishedHandle, .handles: false
        }
        let childFilter = wholeCatalog ? "" : "WHERE product_id IN (\(ids.map(String.init).joined(separator: ",")))"

        let variantRows = try await connection.query(
            PostgresQuery(unsafeSQL: "SELECT * FROM variants \(childFilter) ORDER BY product_id, position"), logger: logger)
        for try await row in variantRows {
            let r = row.makeRandomAccess()
            assembler.add(variant: Variant(
                sku: try r["sku"].decode(String.self),
                options: CatalogAssembler.options([
                    try r["option1"].decode(String?.self), try r["option2"].decode(String?.self), try r["option3"].decode(String?.self),
                ]),
                priceCents: try r["price_cents"].decode(Int.self), compareAtCents: try r["compare_at_cents"].decode(Int?.self),
                stock: try r["stock"].decode(Int.self),
                inventoryPolicy: InventoryPolicy(rawValue: try r["inventory_policy"].decode(String.self)) ?? .deny,
                grams: try r["grams"].decode(Int.self), requiresShipping: try r["requires_shipping"].decode(Bool.self),
                taxable: try r["taxable"].decode(Bool.self), barcode: try r["barcode"].decode(String.self),
                imageSrc: try r["image_src"].decode(String.self), weightUnit: try r["weight_unit"].decode(String.self)),
                productID: try r["product_id"].decode(Int64.self))
        }
        let imageRows = try await connection.query(
            PostgresQuery(unsafeSQL: "SELECT product_id, src, position, alt FROM images \(childFilter) ORDER BY product_id, position"),
            logger: logger)
        for try await (productID, src, position, alt) in imageRows.decode((Int64, String, Int, String).self) {
            assembler.add(image: ProductImage(src: src, position: position, alt: alt), productID: productID)
        }
        let tagRows = try await connection.query(
            PostgresQuery(unsafeSQL: "SELECT product_id, name FROM tags \(childFilter) ORDER BY product_id, position"), logger: logger)
        for try await (productID, name) in tagRows.decode((Int64, String).self) {
            assembler.add(tag: name, productID: productID)
        }
        return assembler.result
    }

    // MARK: Writing

    public func upsert(manifest: UpsertManifest, batches: any ProductBatches) async throws -> UpsertSummary {
        let logger = self.logger
        return try await Self.unwrappingTransactionErrors {
            try await client.withTransaction(logger: logger) { connection in
                try await connection.query("SELECT pg_advisory_xact_lock(\(Self.catalogWriteLock))", logger: logger)
                var summary = UpsertSummary()
                let now = ISO8601DateFormatter().string(from: Date())
                var stored: [(handle: String, sku: String)] = []
                for handles in Array(manifest.skusByHandle.keys).chunks() {
                    let rows = try await connection.query("""
                        SELECT p.handle, v.sku FROM variants v JOIN products p ON p.id = v.product_id WHERE p.handle = ANY(\(Array(handles)))
                        """, logger: logger)
                    for try await (handle, sku) in rows.decode((String, String).self) { stored.append((handle, sku)) }
                }
                let dropped = CatalogChanges.droppedSKUs(manifest: manifest, stored: stored)
                for skus in dropped.chunks() {
                    try await connection.query("DELETE FROM variants WHERE sku = ANY(\(Array(skus)))", logger: logger)
                }
                summary.variantsRemoved = dropped.count
                // Gone variants are announced sold out; see SQLiteStore.upsert.
                var stockChanges: [(sku: String, stock: Int)] = dropped.map { ($0, 0) }

                while let batch = try batches.next() {
                    try CatalogChanges.checkManifest(manifest, covers: batch)
                    let existing = try await Self.loadProducts(connection, logger: logger, selection: .handles(batch.map(\.handle)))
                    var owners: [String: String] = [:]
                    let skus = batch.flatMap { $0.variants.map(\.sku) }
                    let rows = try await connection.query("""
                        SELECT v.sku, p.handle FROM variants v JOIN products p ON p.id = v.product_id WHERE v.sku = ANY(\(skus))
                        """, logger: logger)
                    for try await (sku, handle) in rows.decode((String, String).self) { owners[sku] = handle }
                    let changes = try CatalogChanges(
                        incoming: batch,
                        existing: Dictionary(existing.map { ($0.handle, $0) }, uniquingKeysWith: { first, _ in first }),
                        owners: owners)
                    try await Self.apply(changes, connection: connection, logger: logger, now: now)
                    summary.add(changes.summary)
                    stockChanges += StockChanges.imported(batch, existing: Dictionary(existing.map { ($0.handle, $0) },
                                                                                      uniquingKeysWith: { first, _ in first }))
                }
                try await Self.recordStockEvents(stockChanges, connection: connection, logger: logger)
                return summary
            }
        }
    }

    /// PostgresNIO wraps whatever a transaction's body threw; callers want our own errors back
    /// (a `StoreError.skuTaken`, say), as SQLiteStore gives them.
    static func unwrappingTransactionErrors<T>(_ body: () async throws -> T) async throws -> T {
        do {
            return try await body()
        } catch let error as PostgresTransactionError {
            throw error.closureError ?? error.commitError ?? error.beginError ?? error
        }
    }

    /// Writes a plan in a few statements per kind of change, each carrying its rows as arrays
    /// (UNNEST), so an import of 10,000 products is dozens of round trips, not 100,000.
    static func apply(_ changes: CatalogChanges, connection: PostgresConnection, logger: Logger, now: String) async throws {
        var batch = Batch()
        for step in changes.steps { batch.add(step) }

        for products in batch.insertedProducts.chunks() {
            let c = ProductColumns(products)
            try await connection.query("""
                INSERT INTO products (handle, title, body_html, vendor, product_type, published, seo_title, seo_description,
                option1_name, option2_name, option3_name, created_at, updated_at)
                SELECT handle, title, body, vendor, type, published, seo_title, seo_description,
                NULLIF(o1, ''), NULLIF(o2, ''), NULLIF(o3, ''), \(now), \(now)
                FROM UNNEST(\(c.handles)::text[], \(c.titles)::text[], \(c.bodies)::text[], \(c.vendors)::text[], \(c.types)::text[],
                \(c.published)::bool[], \(c.seoTitles)::text[], \(c.seoDescriptions)::text[], \(c.option1)::text[], \(c.option2)::text[],
                \(c.option3)::text[])
                AS u(handle, title, body, vendor, type, published, seo_title, seo_description, o1, o2, o3)
                """, logger: logger)
        }
        for products in batch.updatedProducts.chunks() {
            let c = ProductColumns(products)
            try await connection.query("""
                UPDATE products SET title = u.title, body_html = u.body, vendor = u.vendor, product_type = u.type,
                published = u.published, seo_title = u.seo_title, seo_description = u.seo_description,
                option1_name = NULLIF(u.o1, ''), option2_name = NULLIF(u.o2, ''), option3_name = NULLIF(u.o3, ''), updated_at = \(now)
                FROM UNNEST(\(c.handles)::text[], \(c.titles)::text[], \(c.bodies)::text[], \(c.vendors)::text[], \(c.types)::text[],
                \(c.published)::bool[], \(c.seoTitles)::text[], \(c.seoDescriptions)::text[], \(c.option1)::text[], \(c.option2)::text[],
                \(c.option3)::text[])
                AS u(handle, title, body, vendor, type, published, seo_title, seo_description, o1, o2, o3)
                WHERE products.handle = u.handle
                """, logger: logger)
        }
        for variants in batch.updatedVariants.chunks() {
            let c = VariantColumns(variants)
            try await connection.query("""
                UPDATE variants SET product_id = p.id, position = u.position, option1 = NULLIF(u.o1, ''), option2 = NULLIF(u.o2, ''),
                option3 = NULLIF(u.o3, ''), price_cents = u.price, compare_at_cents = NULLIF(u.compare_at, -1), stock = u.stock,
                inventory_policy = u.policy, grams = u.grams, requires_shipping = u.shipping, taxable = u.taxable,
                barcode = u.barcode, image_src = u.image, weight_unit = u.unit, updated_at = \(now)
                FROM UNNEST(\(c.handles)::text[], \(c.positions)::int8[], \(c.skus)::text[], \(c.option1)::text[], \(c.option2)::text[],
                \(c.option3)::text[], \(c.prices)::int8[], \(c.compareAts)::int8[], \(c.stocks)::int8[], \(c.policies)::text[],
                \(c.grams)::int8[], \(c.shipping)::bool[], \(c.taxable)::bool[], \(c.barcodes)::text[], \(c.images)::text[],
                \(c.units)::text[])
                AS u(handle, position, sku, o1, o2, o3, price, compare_at, stock, policy, grams, shipping, taxable, barcode, image, unit)
                JOIN products p ON p.handle = u.handle
                WHERE variants.sku = u.sku
                """, logger: logger)
        }
        for variants in batch.insertedVariants.chunks() {
            let c = VariantColumns(variants)
            try await connection.query("""
                INSERT INTO variants (product_id, position, sku, option1, option2, option3, price_cents, compare_at_cents, stock,
                inventory_policy, grams, requires_shipping, taxable, barcode, image_src, weight_unit, updated_at)
                SELECT p.id, u.position, u.sku, NULLIF(u.o1, ''), NULLIF(u.o2, ''), NULLIF(u.o3, ''), u.price,
                NULLIF(u.compare_at, -1), u.stock, u.policy, u.grams, u.shipping, u.taxable, u.barcode, u.image, u.unit, \(now)
                FROM UNNEST(\(c.handles)::text[], \(c.positions)::int8[], \(c.skus)::text[], \(c.option1)::text[], \(c.option2)::text[],
                \(c.option3)::text[], \(c.prices)::int8[], \(c.compareAts)::int8[], \(c.stocks)::int8[], \(c.policies)::text[],
                \(c.grams)::int8[], \(c.shipping)::bool[], \(c.taxable)::bool[], \(c.barcodes)::text[], \(c.images)::text[],
                \(c.units)::text[])
                WITH ORDINALITY AS u(handle, position, sku, o1, o2, o3, price, compare_at, stock, policy, grams, shipping, taxable,
                barcode, image, unit, n)
                JOIN products p ON p.handle = u.handle
                ORDER BY u.n
                """, logger: logger)
        }
        for handles in batch.imageHandles.chunks() {
            try await connection.query("""
                DELETE FROM images WHERE product_id IN (SELECT id FROM products WHERE handle = ANY(\(Array(handles))))
                """, logger: logger)
        }
        for rows in batch.images.chunks() {
            let handles = rows.map(\.handle), positions = rows.map(\.image.position), sources = rows.map(\.image.src)
            let alts = rows.map(\.image.alt)
            try await connection.query("""
                INSERT INTO images (product_id, position, src, alt)
                SELECT p.id, u.position, u.src, u.alt
                FROM UNNEST(\(handles)::text[], \(positions)::int8[], \(sources)::text[], \(alts)::text[]) AS u(handle, position, src, alt)
                JOIN products p ON p.handle = u.handle
                """, logger: logger)
        }
        for handles in batch.tagHandles.chunks() {
            try await connection.query("""
                DELETE FROM tags WHERE product_id IN (SELECT id FROM products WHERE handle = ANY(\(Array(handles))))
                """, logger: logger)
        }
        for rows in batch.tags.chunks() {
            let handles = rows.map(\.handle), names = rows.map(\.name), positions = rows.map(\.position)
            try await connection.query("""
                INSERT INTO tags (product_id, name, position)
                SELECT p.id, u.name, u.position
                FROM UNNEST(\(handles)::text[], \(names)::text[], \(positions)::int8[]) AS u(handle, name, position)
                JOIN products p ON p.handle = u.handle
                """, logger: logger)
        }
    }

    /// A plan's steps sorted by kind, in the order they must run.
    struct Batch {
        var insertedProducts: [Product] = []
        var updatedProducts: [Product] = []
        var insertedVariants: [(handle: String, position: Int, variant: Variant)] = []
        var updatedVariants: [(handle: String, position: Int, variant: Variant)] = []
        var imageHandles: [String] = []
        var images: [(handle: String, image: ProductImage)] = []
        var tagHandles: [String] = []
        var tags: [(handle: String, name: String, position: Int)] = []

        mutating func add(_ step: CatalogChanges.Step) {
            switch step {
            case .insertProduct(let product): insertedProducts.append(product)
            case .updateProduct(let product): updatedProducts.append(product)
            case .insertVariant(let handle, let position, let variant): insertedVariants.append((handle, position, variant))
            case .updateVariant(let handle, let position, let variant): updatedVariants.append((handle, position, variant))
            case .replaceImages(let handle, let list):
                imageHandles.append(handle)
                images += list.map { (handle, $0) }
            case .replaceTags(let handle, let list):
                tagHandles.append(handle)
                tags += list.enumerated().map { (handle, $1, $0) }
            }
        }
    }

    /// Products as columns. NULL option names travel as "" (never a real name: refused on write).
    struct ProductColumns {
        let handles, titles, bodies, vendors, types, seoTitles, seoDescriptions, option1, option2, option3: [String]
        let published: [Bool]

        init(_ products: ArraySlice<Product>) {
            handles = products.map(\.handle)
            titles = products.map(\.title)
            bodies = products.map(\.bodyHTML)
            vendors = products.map(\.vendor)
            types = products.map(\.productType)
            seoTitles = products.map(\.seoTitle)
            seoDescriptions = products.map(\.seoDescription)
            published = products.map(\.published)
            option1 = products.map { $0.optionNames.count > 0 ? $0.optionNames[0] : "" }
            option2 = products.map { $0.optionNames.count > 1 ? $0.optionNames[1] : "" }
            option3 = products.map { $0.optionNames.count > 2 ? $0.optionNames[2] : "" }
        }
    }

    /// Variants as columns. NULL options travel as "", a NULL compare-at price as -1 (neither can
    /// be a real value: CatalogChanges.validate refuses empty option values and negative prices).
    struct VariantColumns {
        let handles, skus, option1, option2, option3, policies, barcodes, images, units: [String]
        let positions, prices, compareAts, stocks, grams: [Int]
        let shipping, taxable: [Bool]

        init(_ rows: ArraySlice<(handle: String, position: Int, variant: Variant)>) {
            handles = rows.map(\.handle)
            positions = rows.map(\.position)
            skus = rows.map(\.variant.sku)
            option1 = rows.map { $0.variant.options.count > 0 ? $0.variant.options[0] : "" }
            option2 = rows.map { $0.variant.options.count > 1 ? $0.variant.options[1] : "" }
            option3 = rows.map { $0.variant.options.count > 2 ? $0.variant.options[2] : "" }
            prices = rows.map(\.variant.priceCents)
            compareAts = rows.map { $0.variant.compareAtCents ?? -1 }
            stocks = rows.map(\.variant.stock)
            policies = rows.map(\.variant.inventoryPolicy.rawValue)
            grams = rows.map(\.variant.grams)
            shipping = rows.map(\.variant.requiresShipping)
            taxable = rows.map(\.variant.taxable)
            barcodes = rows.map(\.variant.barcode)
            images = rows.map(\.variant.imageSrc)
            units = rows.map(\.variant.weightUnit)
        }
    }
}

/// `postgres://user:password@host:port/database?sslmode=...`, as libpq reads it (the parts ishop uses).
struct PostgresURL {
    enum TLSMode: String { case disable, allow, prefer, require, verifyCA = "verify-ca", verifyFull = "verify-full" }

    var host: String
    var port: Int
    var socketPath: String?
    var username: String
    var password: String?
    var database: String?
    var tlsMode: TLSMode

    init(_ text: String) throws {
        let redacted = StoreLocator.redacted(text)
        func invalid(_ why: String) -> StoreError { .cannotOpen(location: redacted, reason: why) }
        guard let components = URLComponents(string: text), let scheme = components.scheme?.lowercased(),
              scheme == "postgres" || scheme == "postgresql"
        else { throw invalid("not a postgres:// URL") }
        let query = Dictionary((components.queryItems ?? []).map { ($0.name, $0.value ?? "") }, uniquingKeysWith: { _, last in last })
        host = components.host.flatMap { $0.isEmpty ? nil : $0 } ?? "127.0.0.1"
        port = components.port ?? Int(query["port"] ?? "") ?? 5432
        guard (1...65535).contains(port) else { throw invalid("port \(port) is out of range") }
        // libpq takes a socket folder as host=/path; PostgresNIO wants the socket file itself.
        if let socketFolder = query["host"], socketFolder.hasPrefix("/") {
            socketPath = "\(socketFolder)/.s.PGSQL.\(port)"
        }
        username = components.user.flatMap { $0.removingPercentEncoding } ?? query["user"] ?? ProcessInfo.processInfo.environment["USER"] ?? "postgres"
        password = components.password.flatMap { $0.removingPercentEncoding } ?? query["password"]
        let path = components.path.drop(while: { $0 == "/" })
        database = path.isEmpty ? query["dbname"] : String(path).removingPercentEncoding
        let modeText = query["sslmode"] ?? "prefer"
        guard let mode = TLSMode(rawValue: modeText) else {
            throw invalid("sslmode \(modeText) is not one of disable, allow, prefer, require, verify-ca, verify-full")
        }
        tlsMode = mode
        let known: Set<String> = ["sslmode", "host", "port", "user", "password", "dbname", "application_name", "connect_timeout"]
        if let unknown = query.keys.sorted().first(where: { !known.contains($0) }) {
            throw invalid("the URL parameter \(unknown) is not supported")
        }
    }

    /// TLS as libpq's sslmode means it: prefer/require encrypt without checking the certificate;
    /// verify-ca and verify-full check it against the system's trust store.
    func tlsConfiguration() -> TLSConfiguration {
        var configuration = TLSConfiguration.makeClientConfiguration()
        if tlsMode != .verifyCA && tlsMode != .verifyFull { configuration.certificateVerification = .none }
        if tlsMode == .verifyCA { configuration.certificateVerification = .noHostnameVerification }
        return configuration
    }

    func connectionConfiguration() throws -> PostgresConnection.Configuration {
        if let socketPath {
            return PostgresConnection.Configuration(unixSocketPath: socketPath, username: username, password: password, database: database)
        }
        let tls: PostgresConnection.Configuration.TLS
        switch tlsMode {
        case .disable: tls = .disable
        case .allow, .prefer: tls = .prefer(try NIOSSLContext(configuration: tlsConfiguration()))
        case .require, .verifyCA, .verifyFull: tls = .require(try NIOSSLContext(configuration: tlsConfiguration()))
        }
        var configuration = PostgresConnection.Configuration(host: host, port: port, username: username, password: password,
                                                             database: database, tls: tls)
        configuration.options.connectTimeout = .seconds(10)
        return configuration
    }

    func clientConfiguration() throws -> PostgresClient.Configuration {
        if let socketPath {
            return PostgresClient.Configuration(unixSocketPath: socketPath, username: username, password: password, database: database)
        }
        let tls: PostgresClient.Configuration.TLS
        switch tlsMode {
        case .disable: tls = .disable
        case .allow, .prefer: tls = .prefer(tlsConfiguration())
        case .require, .verifyCA, .verifyFull: tls = .require(tlsConfiguration())
        }
        return PostgresClient.Configuration(host: host, port: port, username: username, password: password, database: database, tls: tls)
    }
}
