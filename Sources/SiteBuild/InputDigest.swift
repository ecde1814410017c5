import Crypto
import Foundation
import ShopCore

/// A SHA-256 over a sequence of fields, each preceded by its length so "ab"+"c" differs from
/// "a"+"bc" (a separator byte would not do: catalog text may hold any byte, NUL included).
/// Fields go in as their UTF-8 bytes, without copies.
struct InputDigest {
    private var hash = SHA256()
    /// Fields gathered before they go to the hash: swift-crypto's update costs more per call than
    /// hashing a field of a few bytes, and a product is about 60 fields (a tenth of a no-op build).
    private var pending: [UInt8] = []
    private static let flushSize = 4096

    init(_ kind: String) {
        pending.reserveCapacity(512)
        add(kind)
    }

    mutating func add(_ text: String) {
        // Read in place: a mutable copy for `withUTF8` cost a reference count per field.
        let done: Void? = text.utf8.withContiguousStorageIfAvailable { add(bytes: UnsafeRawBufferPointer($0)) }
        guard done == nil else { return }
        var text = text
        text.withUTF8 { add(bytes: UnsafeRawBufferPointer($0)) }
    }

    mutating func add(bytes: UnsafeRawBufferPointer) {
        withUnsafeBytes(of: UInt64(bytes.count).littleEndian) { pending.append(contentsOf: $0) }
        if bytes.count >= Self.flushSize {
            flush()
            hash.update(bufferPointer: bytes)
        } else {
            pending.append(contentsOf: bytes)
            if pending.count >= Self.flushSize { flush() }
        }
    }

    private mutating func flush() {
        guard !pending.isEmpty else { return }
        pending.withUnsafeBytes { hash.update(bufferPointer: $0) }
        pending.removeAll(keepingCapacity: true)
    }

    mutating func add(_ number: Int) {
        withUnsafeBytes(of: number.littleEndian) { pending.append(contentsOf: $0) }
    }

    mutating func add(_ flag: Bool) {
        add(flag ? 1 : 0)
    }

    mutating func add(_ optional: Int?) {
        if let optional { add(optional) } else { add("-") }
    }

    mutating func add(_ texts: [String]) {
        add(texts.count)
        texts.forEach { add($0) }
    }

    /// Every stored field of a product, its variants and images: what any page showing it reads.
    mutating func add(_ product: Product) {
        add(product.handle); add(product.title); add(product.bodyHTML); add(product.vendor)
        add(product.productType); add(product.tags); add(product.published); add(product.seoTitle)
        add(product.seoDescription); add(product.optionNames)
        add(product.variants.count)
        for variant in product.variants {
            add(variant.sku); add(variant.options); add(variant.priceCents); add(variant.compareAtCents)
            add(variant.stock); add(variant.inventoryPolicy.rawValue); add(variant.grams); add(variant.requiresShipping)
            add(variant.taxable); add(variant.barcode); add(variant.imageSrc); add(variant.weightUnit)
        }
        add(product.images.count)
        for image in product.images {
            add(image.src); add(image.position); add(image.alt)
        }
    }

    /// Stored fields that `add(_ product:)` covers, per type: a test compares them with the types'
    /// own fields, so a field added to the catalog cannot be forgotten here (and pages go stale).
    static let productFieldsCovered = 12
    static let variantFieldsCovered = 12
    static let imageFieldsCovered = 3

    func finish() -> String {
        var hash = hash
        pending.withUnsafeBytes { hash.update(bufferPointer: $0) }
        return Self.hex(hash.finalize())
    }

    /// Lower-case hex by table: String(format:) per byte cost more than the hashing itself.
    static func hex(_ digest: some Sequence<UInt8>) -> String {
        let digits = Array("0123456789abcdef".utf8)
        var bytes: [UInt8] = []
        bytes.reserveCapacity(64)
        for byte in digest {
            bytes.append(digits[Int(byte >> 4)])
            bytes.append(digits[Int(byte & 0x0F)])
        }
        return String(decoding: bytes, as: UTF8.self)
    }
}
