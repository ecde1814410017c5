import ShopCore

/// What an upsert must write, worked out once from the products given and the catalog as it is,
/// so that the SQLite and PostgreSQL backends differ only in the SQL that carries it out.
///
/// Rules (the Store protocol's): products by handle, variants by SKU; a product's given variants,
/// images and tags replace its stored ones; a SKU may move between products given in the same
/// call, in any order, but may never be taken from a product that is not given.
struct CatalogChanges {
    enum Step: Equatable {
        case insertProduct(Product)
        case updateProduct(Product)
        case insertVariant(handle: String, position: Int, variant: Variant)
        case updateVariant(handle: String, position: Int, variant: Variant)
        case replaceImages(handle: String, images: [ProductImage])
        case replaceTags(handle: String, tags: [String])
    }

    private(set) var steps: [Step] = []
    private(set) var summary = UpsertSummary()

    /// `existing`: the stored products among `incoming`, by handle. `owners`: the handle of the
    /// product that holds each SKU of `incoming` now, after the variants the import gives up were
    /// deleted (`droppedSKUs`), so a SKU still held by another product is taken.
    init(incoming: [Product], existing: [String: Product], owners: [String: String]) throws {
        var claimed: [String: String] = [:]
        for product in incoming {
            try Self.validate(product)
            for variant in product.variants {
                if let other = claimed[variant.sku], other != product.handle {
                    throw StoreError.skuTaken(sku: variant.sku, ownerHandle: other, wantedBy: product.handle)
                }
                claimed[variant.sku] = product.handle
                if let owner = owners[variant.sku], owner != product.handle {
                    throw StoreError.skuTaken(sku: variant.sku, ownerHandle: owner, wantedBy: product.handle)
                }
            }
        }
        for product in incoming {
            plan(product, existing: existing[product.handle])
        }
    }

    /// The stored SKUs (`stored`: handle and SKU pairs of the manifest's products) that their
    /// products no longer list: deleted first, so another product of the import may take them.
    static func droppedSKUs(manifest: UpsertManifest, stored: [(handle: String, sku: String)]) -> [String] {
        stored.filter { entry in
            guard let kept = manifest.skusByHandle[entry.handle] else { return false }
            return !kept.contains(entry.sku)
        }.map(\.sku)
    }

    /// A product the manifest does not list (or lists with other SKUs) would defeat the freeing of
    /// given-up SKUs: refuse rather than write something half-planned.
    static func checkManifest(_ manifest: UpsertManifest, covers batch: [Product]) throws {
        for product in batch where manifest.skusByHandle[product.handle] != Set(product.variants.map(\.sku)) {
            throw StoreError.invalidProduct(handle: product.handle, reason: "its SKUs differ from the upsert's manifest")
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
            let old = Dictionary(existing.variants.enumerated().map { ($1.sku, ($0, $1)) }, uniquingKeysWith: { first, _ in first })
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
        // Empty names and values mean "no such option" to both backends' columns.
        guard !product.optionNames.contains(""), !product.variants.contains(where: { $0.options.contains("") }) else {
            throw invalid("an option name or value is empty")
        }
        guard !product.variants.contains(where: { $0.sku.isEmpty }) else { throw invalid("a variant has no SKU") }
        guard Set(product.variants.map(\.sku)).count == product.variants.count else { throw invalid("two variants share a SKU") }
        guard Set(product.images.map(\.position)).count == product.images.count else { throw invalid("two images share a position") }
        guard Set(product.tags).count == product.tags.count else { throw invalid("a tag is given twice") }
        for variant in product.variants {
            guard variant.stock >= 0 else { throw invalid("variant \(variant.sku) has negative stock") }
            guard variant.priceCents >= 0, (variant.compareAtCents ?? 0) >= 0 else { throw invalid("variant \(variant.sku) has a negative price") }
        }
    }
}

extension Array {
    /// Slices of at most `size` elements: bounds the size of one statement's arrays.
    func chunks(of size: Int = 5000) -> [ArraySlice<Element>] {
        stride(from: 0, to: count, by: size).map { self[$0..<Swift.min($0 + size, count)] }
    }
}
