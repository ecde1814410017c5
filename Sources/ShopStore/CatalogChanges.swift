import ShopCore

/// What an upsert must write, worked out once from the products given and the catalog as it is,
/// so that the SQLite and PostgreSQL backends differ only in the SQL that carries it out.
///
/// Rules (the Store protocol's): products by handle, variants by SKU; a product's given variants,
/// images and tags replace its stored ones; a SKU may move between products given in the same
/// call, in any order, but may never be taken from a product that is not given.
struct CatalogChanges {
    enum Step: Equatable {
        /// Variants that their products no longer list: removed first, so that another product
        /// of the same call may take their SKUs.
        case deleteVariants(skus: [String])
        case insertProduct(Product)
        case updateProduct(Product)
        case insertVariant(handle: String, position: Int, variant: Variant)
        case updateVariant(handle: String, position: Int, variant: Variant)
        case replaceImages(handle: String, images: [ProductImage])
        case replaceTags(handle: String, tags: [String])
        case replaceCollection(handle: String, productType: String)
    }

    private(set) var steps: [Step] = []
    private(set) var summary = UpsertSummary()

    /// `existing`: the stored products, by handle (drafts included).
    init(incoming: [Product], existing: [String: Product]) throws {
        var owners: [String: String] = [:]
        for product in existing.values {
            for variant in product.variants { owners[variant.sku] = product.handle }
        }
        var claimed: [String: String] = [:]
        var dropped: [String] = []
        let given = Dictionary(incoming.map { ($0.handle, $0) }, uniquingKeysWith: { _, last in last })
        for product in incoming {
            try Self.validate(product)
            for variant in product.variants {
                if let other = claimed[variant.sku], other != product.handle {
                    throw StoreError.skuTaken(sku: variant.sku, ownerHandle: other, wantedBy: product.handle)
                }
                claimed[variant.sku] = product.handle
                // Stored on another product: allowed only if that product is given too and lets it go.
                if let owner = owners[variant.sku], owner != product.handle {
                    let released = given[owner].map { !$0.variants.contains { $0.sku == variant.sku } } ?? false
                    if !released { throw StoreError.skuTaken(sku: variant.sku, ownerHandle: owner, wantedBy: product.handle) }
                }
            }
            let keep = Set(product.variants.map(\.sku))
            dropped += (existing[product.handle]?.variants ?? []).map(\.sku).filter { !keep.contains($0) }
        }
        if !dropped.isEmpty {
            steps.append(.deleteVariants(skus: dropped))
            summary.variantsRemoved = dropped.count
        }
        for product in incoming {
            plan(product, existing: existing[product.handle])
        }
    }

    private mutating func plan(_ product: Product, existing: Product?) {
        guard existing != product else {
            summary.productsUnchanged += 1
            return
        }
        if let existing {
            steps.append(.updateProduct(product))
            summary.productsUpdated += 1
            let old = Dictionary(uniqueKeysWithValues: existing.variants.enumerated().map { ($1.sku, ($0, $1)) })
            for (index, variant) in product.variants.enumerated() {
                if let (oldIndex, oldVariant) = old[variant.sku] {
                    guard oldVariant != variant || oldIndex != index else { continue }
                    steps.append(.updateVariant(handle: product.handle, position: index + 1, variant: variant))
                    summary.variantsUpdated += 1
                } else {
                    steps.append(.insertVariant(handle: product.handle, position: index + 1, variant: variant))
                    summary.variantsCreated += 1
                }
            }
        } else {
            steps.append(.insertProduct(product))
            summary.productsCreated += 1
            for (index, variant) in product.variants.enumerated() {
                steps.append(.insertVariant(handle: product.handle, position: index + 1, variant: variant))
                summary.variantsCreated += 1
            }
        }

        let oldImages = Dictionary((existing?.images ?? []).map { ($0.src, $0) }, uniquingKeysWith: { first, _ in first })
        let newSources = Set(product.images.map(\.src))
        summary.imagesRemoved += oldImages.keys.filter { !newSources.contains($0) }.count
        for image in product.images {
            if let old = oldImages[image.src] {
                if old != image { summary.imagesUpdated += 1 }
            } else {
                summary.imagesCreated += 1
            }
        }
        if existing?.images != product.images { steps.append(.replaceImages(handle: product.handle, images: product.images)) }
        if existing?.tags != product.tags { steps.append(.replaceTags(handle: product.handle, tags: product.tags)) }
        if existing?.productType != product.productType {
            steps.append(.replaceCollection(handle: product.handle, productType: product.productType))
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
        for variant in product.variants {
            guard variant.stock >= 0 else { throw invalid("variant \(variant.sku) has negative stock") }
            guard variant.priceCents >= 0, (variant.compareAtCents ?? 0) >= 0 else { throw invalid("variant \(variant.sku) has a negative price") }
        }
    }
}

/// Assembles products from the rows of the four catalog tables, whichever backend read them.
struct CatalogAssembler {
    private var products: [Int64: Product] = [:]
    private var order: [Int64] = []

    var productIDs: [Int64] { order }

    mutating func add(product: Product, id: Int64) {
        products[id] = product
        order.append(id)
    }

    mutating func add(variant: Variant, productID: Int64) {
        products[productID]?.variants.append(variant)
    }

    mutating func add(image: ProductImage, productID: Int64) {
        products[productID]?.images.append(image)
    }

    mutating func add(tag: String, productID: Int64) {
        products[productID]?.tags.append(tag)
    }

    var result: [Product] { order.compactMap { products[$0] } }

    /// Option columns hold NULL past the product's options; the domain holds a shorter array.
    static func options(_ columns: [String?]) -> [String] { columns.compactMap { $0 } }

    /// The three option columns of a row, NULL past the given values.
    static func columns(_ options: [String]) -> [String?] {
        (0..<3).map { $0 < options.count ? options[$0] : nil }
    }
}

/// Result of a conditional stock decrement.
public enum StockDecrement: Sendable, Equatable {
    /// Done; the stock that is left.
    case decremented(remaining: Int)
    /// Not enough stock: nothing changed.
    case insufficient(available: Int)
    case unknownSKU
}
