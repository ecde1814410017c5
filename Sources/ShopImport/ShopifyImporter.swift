import Foundation
import ShopCore
import ShopStore

/// `ishop import shopify FILE...`, in two passes over the files:
///
/// 1. Check: every row of every file is read and checked, and only what the write needs to know
///    in advance is kept (each product's handle and SKUs). A bad row anywhere stops the import
///    here, before anything is written.
/// 2. Write: the files are read again and handed to the Store in batches, all inside one
///    transaction. Memory holds one batch of products, not the catalog.
public struct ShopifyImporter {
    public struct Progress: Sendable {
        public enum Pass: String, Sendable { case checking, writing }
        public var pass: Pass
        public var file: String
        public var rows: Int
    }

    public let store: any Store
    public let currency: Currency
    /// Products per batch handed to the Store in the write pass.
    public var batchSize = 500

    public init(store: any Store, currency: Currency) {
        self.store = store
        self.currency = currency
    }

    public func importFiles(_ paths: [String], progress: @escaping @Sendable (Progress) -> Void = { _ in }) async throws -> ImportSummary {
        var checker = ShopifyCSVParser(currency: currency)
        checker.sanitizesBodies = false
        var manifest = UpsertManifest()
        var firstSeen: [String: (file: String, line: Int)] = [:]
        var skuOwner: [String: (handle: String, file: String)] = [:]
        var totals = (rows: 0, products: 0, variants: 0, images: 0)

        for path in paths {
            var products = try ShopifyProductReader(reader: try CSVReader(path: path), parser: checker)
            while let parsed = try products.next(onRow: { count in
                if count % 1000 == 0 { progress(Progress(pass: .checking, file: path, rows: count)) }
            }) {
                let handle = parsed.product.handle
                if let earlier = firstSeen[handle] {
                    throw ImportError(file: parsed.file, line: parsed.line, column: "Handle", value: handle,
                                      message: "this product is also in \(earlier.file) (line \(earlier.line)); give each product once")
                }
                firstSeen[handle] = (parsed.file, parsed.line)
                // SKUs across files: the reader checks within one file, the Store against the database.
                for variant in parsed.product.variants {
                    if let owner = skuOwner[variant.sku], owner.handle != handle {
                        throw ImportError(file: parsed.file, line: parsed.variantLines[variant.sku] ?? parsed.line, column: "Variant SKU",
                                          value: variant.sku, message: "this SKU is also used by product \(owner.handle) in \(owner.file)")
                    }
                    skuOwner[variant.sku] = (handle, parsed.file)
                }
                manifest.add(handle: handle, skus: parsed.product.variants.map(\.sku))
                totals.products += 1
                totals.variants += parsed.product.variants.count
                totals.images += parsed.product.images.count
            }
            totals.rows += products.rows
            progress(Progress(pass: .checking, file: path, rows: products.rows))
        }

        let batches = CSVProductBatches(paths: paths, parser: ShopifyCSVParser(currency: currency), batchSize: batchSize, progress: progress)
        let changes = try await store.upsert(manifest: manifest, batches: batches)
        return ImportSummary(files: paths.count, rows: totals.rows, products: totals.products, variants: totals.variants,
                             images: totals.images, changes: changes)
    }
}

/// The write pass: the files read again, product by product, handed out in batches.
final class CSVProductBatches: ProductBatches, @unchecked Sendable {
    // Unchecked: the Store calls `next()` from the one transaction that owns this object, one
    // call after another, never concurrently.
    private var paths: ArraySlice<String>
    private var reader: ShopifyProductReader?
    private let parser: ShopifyCSVParser
    private let batchSize: Int
    private let progress: @Sendable (ShopifyImporter.Progress) -> Void

    init(paths: [String], parser: ShopifyCSVParser, batchSize: Int, progress: @escaping @Sendable (ShopifyImporter.Progress) -> Void) {
        self.paths = paths[...]
        self.parser = parser
        self.batchSize = max(1, batchSize)
        self.progress = progress
    }

    func next() throws -> [Product]? {
        var batch: [Product] = []
        while batch.count < batchSize {
            if reader == nil {
                guard let path = paths.popFirst() else { break }
                reader = try ShopifyProductReader(reader: try CSVReader(path: path), parser: parser)
            }
            if let parsed = try reader!.next() {
                batch.append(parsed.product)
            } else {
                progress(.init(pass: .writing, file: reader!.file, rows: reader!.rows))
                reader = nil
            }
        }
        if let reader { progress(.init(pass: .writing, file: reader.file, rows: reader.rows)) }
        return batch.isEmpty ? nil : batch
    }
}

public struct ImportSummary: Sendable, Equatable {
    public var files: Int
    public var rows: Int
    public var products: Int
    public var variants: Int
    public var images: Int
    public var changes: UpsertSummary

    public var description: String {
        let c = changes
        return """
            Imported \(products) products, \(variants) variants, \(images) images from \(files) file\(files == 1 ? "" : "s").
              products: \(c.productsCreated) created, \(c.productsUpdated) updated, \(c.productsUnchanged) unchanged
              variants: \(c.variantsCreated) created, \(c.variantsUpdated) updated, \(c.variantsRemoved) removed
              images:   \(c.imagesCreated) created, \(c.imagesUpdated) updated, \(c.imagesRemoved) removed
            """
    }
}
