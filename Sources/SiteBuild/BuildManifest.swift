import Crypto
import Foundation
import ShopCore

/// What a site folder holds, and from what: each output's path and the digest of every input
/// that went into it. Kept inside the folder it describes (the live site and its spare each have
/// one), so the next build knows which outputs it need not render again.
///
/// One line per output, `<digest> <path>`, sorted by path: it is read and written on every
/// build, including the no-op ones that must finish in well under a second, so no JSON.
struct BuildManifest: Equatable {
    static let fileName = ".ishop-manifest"
    /// Bumped when ishop renders differently, so an old manifest never vouches for new output.
    static let formatVersion = 3
    static var header: String { "ishop-manifest \(formatVersion)" }

    /// Relative output path -> digest of its inputs.
    var outputs: [String: String] = [:]

    /// The manifest of `folder`, or nil (no folder, no manifest, another version, unreadable).
    static func load(folder: String) -> BuildManifest? {
        guard let data = FileManager.default.contents(atPath: "\(folder)/\(fileName)") else { return nil }
        var outputs: [String: String] = [:]
        // Split as an array of bytes: Data's own generic split costs ten times as much per line.
        var lines = [UInt8](data).split(separator: UInt8(ascii: "\n"), omittingEmptySubsequences: true)[...]
        guard let first = lines.popFirst(), String(decoding: first, as: UTF8.self) == header else { return nil }
        outputs.reserveCapacity(lines.count)
        for line in lines {
            guard let space = line.firstIndex(of: UInt8(ascii: " ")) else { return nil }
            outputs[String(decoding: line[space...].dropFirst(), as: UTF8.self)] = String(decoding: line[..<space], as: UTF8.self)
        }
        return BuildManifest(outputs: outputs)
    }

    func encoded() -> [UInt8] {
        var bytes = Array((Self.header + "\n").utf8)
        bytes.reserveCapacity(outputs.count * 100)
        for (path, digest) in outputs.sorted(by: { $0.key < $1.key }) {
            bytes.append(contentsOf: digest.utf8)
            bytes.append(UInt8(ascii: " "))
            bytes.append(contentsOf: path.utf8)
            bytes.append(UInt8(ascii: "\n"))
        }
        return bytes
    }
}

/// A SHA-256 over a sequence of fields, each preceded by its length so "ab"+"c" differs from
/// "a"+"bc" (a separator byte would not do: catalog text may hold any byte, NUL included).
/// Fields go in as their UTF-8 bytes, without copies.
struct InputDigest {
    private var hash = SHA256()

    init(_ kind: String) {
        add(kind)
    }

    mutating func add(_ text: String) {
        var text = text
        text.withUTF8 { add(bytes: UnsafeRawBufferPointer($0)) }
    }

    mutating func add(bytes: UnsafeRawBufferPointer) {
        withUnsafeBytes(of: UInt64(bytes.count).littleEndian) { hash.update(bufferPointer: $0) }
        hash.update(bufferPointer: bytes)
    }

    mutating func add(_ number: Int) {
        withUnsafeBytes(of: number.littleEndian) { hash.update(bufferPointer: $0) }
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
        Self.hex(hash.finalize())
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
