import Foundation
import ShopCore
import ShopStore

/// `ishop import shopify FILE...`: every file is read and checked first, then everything is
/// written in one transaction. A bad row anywhere means nothing is written.
public struct ShopifyImporter {
    public struct Progress: Sendable {
        public var file: String
        public var rows: Int
    }

    public let store: any Store
    public let currency: Currency

    public init(store: any Store, currency: Currency) {
        self.store = store
        self.currency = currency
    }

    public func importFiles(_ paths: [String], progress: (Progress) -> Void = { _ in }) async throws -> ImportSummary {
        let parser = ShopifyCSVParser(currency: currency)
        var all: [ParsedProduct] = []
        var firstSeen: [String: ParsedProduct] = [:]
        var rows = 0
        for path in paths {
            var reader = try CSVReader(path: path)
            var fileRows = 0
            let products = try parser.products(in: &reader) { count in
                if count % 500 == 0 { progress(Progress(file: path, rows: count)) }
                fileRows = count
            }
            rows += fileRows
            progress(Progress(file: path, rows: fileRows))
            for parsed in products {
                if let earlier = firstSeen[parsed.product.handle] {
                    throw ImportError(file: parsed.file, line: parsed.line, column: "Handle", value: parsed.product.handle,
                                      message: "this product is also in \(earlier.file) (line \(earlier.line)); give each product once")
                }
                firstSeen[parsed.product.handle] = parsed
            }
            all += products
        }
        // SKUs across files: the parser checks within one file, the Store against the database.
        var skuOwner: [String: ParsedProduct] = [:]
        for parsed in all {
            for variant in parsed.product.variants {
                if let owner = skuOwner[variant.sku], owner.product.handle != parsed.product.handle {
                    throw ImportError(file: parsed.file, line: parsed.variantLines[variant.sku] ?? parsed.line, column: "Variant SKU",
                                      value: variant.sku, message: "this SKU is also used by product \(owner.product.handle) in \(owner.file)")
                }
                skuOwner[variant.sku] = parsed
            }
        }
        let changes = try await store.upsert(all.map(\.product))
        return ImportSummary(
            files: paths.count, rows: rows, products: all.count,
            variants: all.reduce(0) { $0 + $1.product.variants.count },
            images: all.reduce(0) { $0 + $1.product.images.count }, changes: changes)
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
