import ShopCore

/// A store that keeps a catalog revision: a number that grows with every committed change to a
/// product, a variant, an image or a tag, whoever made it (a route of this runtime, another runtime, `ishop
/// import` in another process, or SQL typed by hand). With it, a runtime may keep answers about
/// the catalog in memory and tell with one small read whether they still hold, and a reader that
/// starts after a commit never gets an answer from before it.
///
/// SQLite keeps it with triggers (migration v4). PostgreSQL does not: a row every writer updated
/// would make concurrent checkouts of different SKUs wait for each other on that row's lock.
public protocol CatalogRevisions: Store {
    /// The revision now, in one single-statement read.
    func catalogRevision() async throws -> Int64

    /// `product(handle:)` and the revision it was read at, in one read transaction.
    func productAtRevision(handle: String) async throws -> (product: Product?, revision: Int64)

    /// `stock(skus:)` and the revision it was read at, in one statement.
    func stockAtRevision(skus: [String]) async throws -> (stock: [String: Int], revision: Int64)
}
