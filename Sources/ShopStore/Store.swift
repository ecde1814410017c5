import Foundation
import ShopCore

/// Where the catalog lives. One protocol, one implementation per backend (SQLiteStore and
/// PostgresStore), so the importer, the build and the runtime never know which one they have.
///
/// Every method is one transaction: a reader sees a consistent catalog, and a writer changes all
/// it was given or nothing.
public protocol Store: Sendable {
    /// Creates or updates products by handle and their variants by SKU, in one transaction,
    /// reading the products batch by batch so that memory stays flat however large the import.
    /// The given products are authoritative: variants and images of theirs that are not in the
    /// input are removed. Products not given are left alone. `manifest` must list every product
    /// that `batches` will give, with its SKUs (it lets SKUs move between products of one import
    /// in any order).
    func upsert(manifest: UpsertManifest, batches: any ProductBatches) async throws -> UpsertSummary

    /// Every product with its variants, images and tags, read in one transaction.
    /// Drafts (unpublished products) are left out unless asked for.
    func catalog(includeUnpublished: Bool) async throws -> [Product]

    /// One published product by handle, or nil.
    func product(handle: String) async throws -> Product?

    /// Current stock of the given SKUs of published products; unknown SKUs are left out.
    func stock(skus: [String]) async throws -> [String: Int]

    /// Answers when the database does: for readiness checks.
    func ping() async throws

    func close() async throws
}

extension Store {
    /// Creates or updates the given products (one batch) in one transaction.
    public func upsert(_ products: [Product]) async throws -> UpsertSummary {
        try await upsert(manifest: UpsertManifest(products), batches: ArrayBatches(products))
    }
}

/// Every product an upsert will write, by handle, with its SKUs: known before the products are
/// read (the importer checks every file before writing), so variants a product gives up can be
/// freed before another product of the same import claims them.
public struct UpsertManifest: Sendable, Equatable {
    public private(set) var skusByHandle: [String: Set<String>] = [:]

    public init() {}

    public init(_ products: [Product]) {
        for product in products { add(handle: product.handle, skus: product.variants.map(\.sku)) }
    }

    public mutating func add(handle: String, skus: [String]) {
        skusByHandle[handle, default: []].formUnion(skus)
    }
}

/// Products handed to an upsert a batch at a time, inside its transaction (so the calls are
/// synchronous: SQLite's write closure cannot wait). nil ends the input.
public protocol ProductBatches: AnyObject, Sendable {
    func next() throws -> [Product]?
}

/// One batch from an array.
final class ArrayBatches: ProductBatches, @unchecked Sendable {
    // Read once, by the one upsert that owns this object, inside its transaction.
    private var products: [Product]?

    init(_ products: [Product]) { self.products = products }

    func next() throws -> [Product]? {
        defer { products = nil }
        return products
    }
}

/// What an upsert changed: the importer's summary line.
public struct UpsertSummary: Sendable, Equatable {
    public var productsCreated = 0
    public var productsUpdated = 0
    public var productsUnchanged = 0
    public var variantsCreated = 0
    public var variantsUpdated = 0
    public var variantsRemoved = 0
    public var imagesCreated = 0
    public var imagesUpdated = 0
    public var imagesRemoved = 0

    public init() {}

    mutating func add(_ other: UpsertSummary) {
        productsCreated += other.productsCreated
        productsUpdated += other.productsUpdated
        productsUnchanged += other.productsUnchanged
        variantsCreated += other.variantsCreated
        variantsUpdated += other.variantsUpdated
        variantsRemoved += other.variantsRemoved
        imagesCreated += other.imagesCreated
        imagesUpdated += other.imagesUpdated
        imagesRemoved += other.imagesRemoved
    }
}

public enum StoreError: Error, Equatable, CustomStringConvertible {
    /// A SKU is already used by a variant of another product.
    case skuTaken(sku: String, ownerHandle: String, wantedBy: String)
    case unsupportedDatabase(String)
    /// A handle that could not be a URL path segment.
    case invalidHandle(String)
    /// A product that breaks a rule of the catalog's shape (more than three options, say).
    case invalidProduct(handle: String, reason: String)
    case cannotOpen(location: String, reason: String)
    /// The database was written by a newer ishop: refuse rather than damage it.
    case schemaTooNew(location: String, migration: String)

    public var description: String {
        switch self {
        case .skuTaken(let sku, let owner, let wanted):
            "SKU \(sku) of product \(wanted) is already used by product \(owner); SKUs must be unique across the catalog"
        case .invalidProduct(let handle, let reason):
            "product \(handle) cannot be stored: \(reason)"
        case .invalidHandle(let handle):
            "product handle \"\(handle.prefix(80))\" is not valid: letters, digits, - and _ only"
        case .unsupportedDatabase(let url):
            "database \(url) is not supported: give a SQLite file path or a postgres:// URL"
        case .cannotOpen(let location, let reason):
            "cannot open the database \(location): \(reason)"
        case .schemaTooNew(let location, let migration):
            "the database \(location) has migration \(migration), which this ishop does not know; use a newer ishop"
        }
    }
}

/// Opens the store a database URL names: a SQLite file path (or `sqlite:PATH`); `postgres://` later.
public enum StoreLocator {
    public static func open(_ location: String) async throws -> any Store {
        let lower = location.lowercased()
        if lower.hasPrefix("postgres://") || lower.hasPrefix("postgresql://") {
            return try await PostgresStore(url: location)
        }
        if lower.contains("://") {
            throw StoreError.unsupportedDatabase(redacted(location))
        }
        var path = location
        if lower.hasPrefix("sqlite:") { path = String(location.dropFirst("sqlite:".count)) }
        return try SQLiteStore(path: path)
    }

    /// A URL fit for messages and logs: a password, in the user part or the query, replaced.
    /// A URL that cannot be parsed is not shown at all, since where its password is cannot be told.
    public static func redacted(_ location: String) -> String {
        guard location.contains("://") else { return location }
        guard var components = URLComponents(string: location) else {
            return (location.components(separatedBy: "://").first ?? "database") + "://(unreadable URL, not shown)"
        }
        if components.password != nil { components.password = "***" }
        if let items = components.queryItems {
            components.queryItems = items.map { item in
                ["password", "pass", "pwd"].contains(item.name.lowercased()) ? URLQueryItem(name: item.name, value: "***") : item
            }
        }
        return components.string ?? "(unreadable URL, not shown)"
    }
}
