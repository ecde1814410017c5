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

    /// Every writer of the catalog takes this transaction-level lock first, so two imports on
    /// two machines never interleave their reads and writes.
    static let catalogWriteLock: Int64 = 0x1_5_4_0_9_0_0_1

    public init(url: String, logger: Logger = Logger(label: "ishop.postgres")) async throws {
        let redacted = StoreLocator.redacted(url)
        location = redacted
        self.logger = logger
        let target = try PostgresURL(url)

        // One direct connection first: it fails fast with the server's own reason (a pool would
        // keep retrying), and it runs the migrations before any other query.
        let probe: PostgresConnection
        do {
            probe = try await PostgresConnection.connect(configuration: try target.connectionConfiguration(), id: 0, logger: logger)
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
                try? await connection.query("ROLLBACK", logger: logger)
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
    }

    /// The catalog, or a part of it, in four queries.
    static func loadProducts(_ connection: PostgresConnection, logger: Logger, selection: Selection) async throws -> [Product] {
        let query: PostgresQuery = switch selection {
        case .all: "SELECT * FROM products ORDER BY id"
        case .published: "SELECT * FROM products WHERE published ORDER BY id"
        case .publishedHandle(let handle): "SELECT * FROM products WHERE published AND handle = \(handle)"
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
        let childFilter = ids.count == 1 ? "WHERE product_id = \(ids[0])" : ""

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

    public func upsert(_ incoming: [Product]) async throws -> UpsertSummary {
        let logger = self.logger
        return try await Self.unwrappingTransactionErrors {
            try await client.withTransaction(logger: logger) { connection in
            try await connection.query("SELECT pg_advisory_xact_lock(\(Self.catalogWriteLock))", logger: logger)
            let existing = try await Self.loadProducts(connection, logger: logger, selection: .all)
            let changes = try CatalogChanges(
                incoming: incoming,
                existing: Dictionary(existing.map { ($0.handle, $0) }, uniquingKeysWith: { first, _ in first }))
            let now = ISO8601DateFormatter().string(from: Date())
            for step in changes.steps { try await Self.apply(step, connection: connection, logger: logger, now: now) }
            return changes.summary
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

    static func apply(_ step: CatalogChanges.Step, connection: PostgresConnection, logger: Logger, now: String) async throws {
        switch step {
        case .deleteVariants(let skus):
            try await connection.query("DELETE FROM variants WHERE sku = ANY(\(skus))", logger: logger)
        case .insertProduct(let product):
            let names = CatalogAssembler.columns(product.optionNames)
            try await connection.query("""
                INSERT INTO products (handle, title, body_html, vendor, product_type, published, seo_title, seo_description,
                option1_name, option2_name, option3_name, created_at, updated_at)
                VALUES (\(product.handle), \(product.title), \(product.bodyHTML), \(product.vendor), \(product.productType),
                \(product.published), \(product.seoTitle), \(product.seoDescription), \(names[0]), \(names[1]), \(names[2]), \(now), \(now))
                """, logger: logger)
        case .updateProduct(let product):
            let names = CatalogAssembler.columns(product.optionNames)
            try await connection.query("""
                UPDATE products SET title = \(product.title), body_html = \(product.bodyHTML), vendor = \(product.vendor),
                product_type = \(product.productType), published = \(product.published), seo_title = \(product.seoTitle),
                seo_description = \(product.seoDescription), option1_name = \(names[0]), option2_name = \(names[1]),
                option3_name = \(names[2]), updated_at = \(now) WHERE handle = \(product.handle)
                """, logger: logger)
        case .insertVariant(let handle, let position, let v):
            let o = CatalogAssembler.columns(v.options)
            try await connection.query("""
                INSERT INTO variants (product_id, position, sku, option1, option2, option3, price_cents, compare_at_cents, stock,
                inventory_policy, grams, requires_shipping, taxable, barcode, image_src, weight_unit, updated_at)
                VALUES ((SELECT id FROM products WHERE handle = \(handle)), \(position), \(v.sku), \(o[0]), \(o[1]), \(o[2]),
                \(v.priceCents), \(v.compareAtCents), \(v.stock), \(v.inventoryPolicy.rawValue), \(v.grams), \(v.requiresShipping),
                \(v.taxable), \(v.barcode), \(v.imageSrc), \(v.weightUnit), \(now))
                """, logger: logger)
        case .updateVariant(let handle, let position, let v):
            let o = CatalogAssembler.columns(v.options)
            try await connection.query("""
                UPDATE variants SET product_id = (SELECT id FROM products WHERE handle = \(handle)), position = \(position),
                option1 = \(o[0]), option2 = \(o[1]), option3 = \(o[2]), price_cents = \(v.priceCents),
                compare_at_cents = \(v.compareAtCents), stock = \(v.stock), inventory_policy = \(v.inventoryPolicy.rawValue),
                grams = \(v.grams), requires_shipping = \(v.requiresShipping), taxable = \(v.taxable), barcode = \(v.barcode),
                image_src = \(v.imageSrc), weight_unit = \(v.weightUnit), updated_at = \(now) WHERE sku = \(v.sku)
                """, logger: logger)
        case .replaceImages(let handle, let images):
            try await connection.query("DELETE FROM images WHERE product_id = (SELECT id FROM products WHERE handle = \(handle))", logger: logger)
            for image in images {
                try await connection.query("""
                    INSERT INTO images (product_id, position, src, alt)
                    VALUES ((SELECT id FROM products WHERE handle = \(handle)), \(image.position), \(image.src), \(image.alt))
                    """, logger: logger)
            }
        case .replaceTags(let handle, let tags):
            try await connection.query("DELETE FROM tags WHERE product_id = (SELECT id FROM products WHERE handle = \(handle))", logger: logger)
            for (index, tag) in tags.enumerated() {
                try await connection.query("""
                    INSERT INTO tags (product_id, name, position) VALUES ((SELECT id FROM products WHERE handle = \(handle)), \(tag), \(index))
                    """, logger: logger)
            }
        case .replaceCollection(let handle, let productType):
            try await connection.query("""
                DELETE FROM product_collections WHERE product_id = (SELECT id FROM products WHERE handle = \(handle))
                """, logger: logger)
            let collection = Handle.slug(productType)
            if !collection.isEmpty {
                try await connection.query("""
                    INSERT INTO collections (handle, title) VALUES (\(collection), \(productType)) ON CONFLICT (handle) DO NOTHING
                    """, logger: logger)
                try await connection.query("""
                    INSERT INTO product_collections (product_id, collection_id)
                    SELECT (SELECT id FROM products WHERE handle = \(handle)), id FROM collections WHERE handle = \(collection)
                    """, logger: logger)
            }
        }
    }

    public func decrementStock(sku: String, quantity: Int) async throws -> StockDecrement {
        precondition(quantity >= 1, "a decrement takes at least one unit")
        let now = ISO8601DateFormatter().string(from: Date())
        // One statement: under concurrency PostgreSQL re-checks `stock >= quantity` on the row it
        // locked, so two buyers of the last unit cannot both succeed.
        let rows = try await client.query("""
            UPDATE variants SET stock = stock - \(quantity), updated_at = \(now)
            WHERE sku = \(sku) AND stock >= \(quantity) RETURNING stock
            """, logger: logger)
        for try await remaining in rows.decode(Int.self) { return .decremented(remaining: remaining) }
        let current = try await client.query("SELECT stock FROM variants WHERE sku = \(sku)", logger: logger)
        for try await available in current.decode(Int.self) { return .insufficient(available: available) }
        return .unknownSKU
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
