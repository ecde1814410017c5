import ShopCore

/// Assembles products from the rows of the four catalog tables, whichever backend read them.
///
/// Products arrive by id and their children by product id, so a child's product is found by
/// moving a cursor forward, not by a lookup, and is changed in place in one array: a build reads
/// a quarter of a million rows, and a dictionary of products (hashing, then copying every product
/// out at the end) was a large part of reading the catalog in a profile.
struct CatalogAssembler {
    private var products: [Product] = []
    private var ids: [Int64] = []
    /// Where the last child's product was: the next child's is there or the one after.
    private var cursor = 0
    /// Id -> index, only when products did not arrive by ascending id.
    private var positions: [Int64: Int]?

    var productIDs: [Int64] { ids }

    init() {}

    /// Products read already, with their ids (ascending, as `ORDER BY id` reads them).
    init(rows: consuming SQLiteStore.ProductRows) {
        products = rows.products
        ids = rows.ids
        if zip(ids, ids.dropFirst()).contains(where: { $0 >= $1 }) {
            positions = Dictionary(ids.enumerated().map { ($1, $0) }, uniquingKeysWith: { first, _ in first })
        }
    }

    mutating func add(product: Product, id: Int64) {
        if positions == nil, let last = ids.last, id <= last {
            positions = Dictionary(ids.enumerated().map { ($1, $0) }, uniquingKeysWith: { first, _ in first })
        }
        if positions != nil, positions?[id] == nil { positions?[id] = ids.count }
        products.append(product)
        ids.append(id)
    }

    /// The index of product `id`, or nil when it was not read (a child of an unpublished product).
    private mutating func index(of id: Int64) -> Int? {
        if cursor < ids.count, ids[cursor] == id { return cursor }
        if cursor + 1 < ids.count, ids[cursor + 1] == id {
            cursor += 1
            return cursor
        }
        let found: Int?
        if let positions {
            found = positions[id]
        } else {
            // Ascending ids: binary search.
            var low = 0, high = ids.count
            while low < high {
                let middle = (low + high) / 2
                if ids[middle] < id { low = middle + 1 } else { high = middle }
            }
            found = low < ids.count && ids[low] == id ? low : nil
        }
        if let found { cursor = found }
        return found
    }

    mutating func add(variant: Variant, productID: Int64) {
        guard let index = index(of: productID) else { return }
        products[index].variants.append(variant)
    }

    mutating func add(image: ProductImage, productID: Int64) {
        guard let index = index(of: productID) else { return }
        products[index].images.append(image)
    }

    mutating func add(tag: String, productID: Int64) {
        guard let index = index(of: productID) else { return }
        products[index].tags.append(tag)
    }

    /// A product's children read together: set in one assignment.
    mutating func set(variants: [Variant], productID: Int64) {
        guard let index = index(of: productID) else { return }
        products[index].variants = variants
    }

    mutating func set(images: [ProductImage], productID: Int64) {
        guard let index = index(of: productID) else { return }
        products[index].images = images
    }

    mutating func set(tags: [String], productID: Int64) {
        guard let index = index(of: productID) else { return }
        products[index].tags = tags
    }

    var result: [Product] { products }

    /// Option columns hold NULL past the product's options; the domain holds a shorter array.
    static func options(_ columns: [String?]) -> [String] { columns.compactMap { $0 } }

    /// The three option columns of a row, NULL past the given values.
    static func columns(_ options: [String]) -> [String?] {
        (0..<3).map { $0 < options.count ? options[$0] : nil }
    }
}
