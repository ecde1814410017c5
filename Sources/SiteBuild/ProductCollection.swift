import Dispatch
import Synchronization
import ShopCore

/// A listing of products at `/collections/<slug>/`: one per distinct product type (Shopify's
/// "Type") and one per distinct tag, paged by `pageSize`.
///
/// Types and tags share the `/collections/` namespace, as they share one in a shopper's mind: a
/// type "Poster" and a tag "poster" are one collection holding the products of both, each once.
/// Its title is the type's text when a type has the slug, else the tag's. Text whose slug is
/// empty ("", "!!!") has no collection.
struct ProductCollection: Sendable {
    let slug: String
    let title: String
    /// The build's catalog, shared by every collection (one array, not a copy per collection).
    private let catalog: [Product]
    /// Indices into `catalog` of the collection's products, by title (ignoring case), then
    /// handle: the order shoppers expect, and the same on every build. Indices rather than copies
    /// of the products: copying each product into every collection it belongs to (a dozen
    /// reference counts per copy) was most of gathering them.
    private let members: [Int32]
    /// Some product has this as its type (not only as a tag): such collections make the shop's
    /// navigation, while the tags, which can be hundreds, are listed at /collections/.
    let isProductType: Bool

    /// `/collections/<slug>/` for page 1, `/collections/<slug>/page/N/` after it. Page 1 has no
    /// `/page/1/` alias: one address per page, so nothing needs a redirect.
    func path(page number: Int) -> String {
        number <= 1 ? "/collections/\(slug)/" : "/collections/\(slug)/page/\(number)/"
    }

    /// How many products the collection has.
    var count: Int { members.count }

    func pageCount(pageSize: Int) -> Int {
        max(1, (members.count + pageSize - 1) / pageSize)
    }

    /// The product at `member`, one of `indicesOnPage`'s indices.
    func product(_ member: Int32) -> Product { catalog[Int(member)] }

    /// Its handle, without a copy of the whole product.
    func handle(_ member: Int32) -> String { catalog[Int(member)].handle }

    /// Indices into the build's catalog of the products on page `number`: what the plan needs,
    /// without copying them.
    func indicesOnPage(_ number: Int, pageSize: Int) -> ArraySlice<Int32> {
        let start = min(members.count, (number - 1) * pageSize)
        return members[start..<min(members.count, start + pageSize)]
    }

    /// The slug of a type or tag, or nil when it makes no collection.
    static func slug(for text: String) -> String? {
        // Every page asks for the slugs of its product's type and tags: a catalog has few distinct
        // ones, and Handle.slug (Unicode decomposition) was a thirtieth of a build.
        if let known = knownSlugs.withLock({ $0[text] }) { return known.slug }
        let slug = Handle.slug(text)
        // A slug is one folder name under collections/: anything Handle would refuse stays out.
        let result = Handle.isValid(slug) ? slug : nil
        knownSlugs.withLock { known in
            if known.count >= 100_000 { known.removeAll(keepingCapacity: true) }
            known[text] = KnownSlug(slug: result)
        }
        return result
    }

    private struct KnownSlug: Sendable {
        var slug: String?
    }

    private static let knownSlugs = Mutex<[String: KnownSlug]>([:])

    /// Every collection of `products` (the published catalog), ordered by title then slug.
    /// Without `tags`, only product types make collections (site.yml `outputs.tagCollections`).
    static func gather(_ products: [Product], tags: Bool = true) -> [ProductCollection] {
        struct Gathering {
            var typeTitles: Set<String> = []
            var tagTitles: Set<String> = []
            var members: [Int32] = []
        }
        // Two jobs that need only the catalog, on two cores at once (each was about half of this
        // stage, which a one-product rebuild waits for): each product's rank by title, and the
        // grouping of products into collections in catalog order. Each collection's members are
        // then put in rank order, which is the same as sorting them by title and handle.
        final class Halves: @unchecked Sendable {
            // Each written by one of the two workers only, and read after both are done.
            var ranks: [Int32] = []
            var gatherings: [String: Gathering] = [:]
        }
        let halves = Halves()
        products.withUnsafeBufferPointer { buffer in
            let catalog = UncheckedBox(buffer)
            DispatchQueue.concurrentPerform(iterations: 2) { part in
                let products = catalog.value
                if part == 0 {
                    // Keys worked out once per product, not once per comparison.
                    let keys = products.map { $0.title.lowercased() }
                    let order = products.indices.sorted { left, right in
                        keys[left] != keys[right] ? keys[left] < keys[right] : products[left].handle < products[right].handle
                    }
                    var ranks = [Int32](repeating: 0, count: products.count)
                    for (rank, index) in order.enumerated() { ranks[index] = Int32(rank) }
                    halves.ranks = ranks
                    return
                }
                var gatherings: [String: Gathering] = [:]
                var joined: Set<String> = []
                for index in products.indices {
                    // Every slug this product belongs to, once, however many of its type and tags
                    // share it. Its type and tags only, not a copy of the whole product.
                    joined.removeAll(keepingCapacity: true)
                    let productType = products[index].productType
                    if let slug = Self.slug(for: productType) {
                        gatherings[slug, default: Gathering()].typeTitles.insert(productType)
                        joined.insert(slug)
                    }
                    for tag in products[index].tags where tags {
                        guard let slug = Self.slug(for: tag) else { continue }
                        gatherings[slug, default: Gathering()].tagTitles.insert(tag)
                        joined.insert(slug)
                    }
                    for slug in joined { gatherings[slug, default: Gathering()].members.append(Int32(index)) }
                }
                halves.gatherings = gatherings
            }
        }
        let ranks = halves.ranks
        var gatherings = halves.gatherings
        // In place, by index: iterating `keys` while changing values would copy the dictionary.
        var position = gatherings.values.startIndex
        while position != gatherings.values.endIndex {
            gatherings.values[position].members.sort { ranks[Int($0)] < ranks[Int($1)] }
            gatherings.values.formIndex(after: &position)
        }

        return gatherings.map { slug, gathering -> ProductCollection in
            // Several spellings can share a slug ("Art Print", "art print"): the least one wins,
            // so the title does not depend on the order the store returned products in.
            let title = gathering.typeTitles.min() ?? gathering.tagTitles.min() ?? slug
            return ProductCollection(slug: slug, title: title, catalog: products, members: gathering.members,
                                     isProductType: !gathering.typeTitles.isEmpty)
        }
        .sorted { ($0.title.lowercased(), $0.slug) < ($1.title.lowercased(), $1.slug) }
    }
}
