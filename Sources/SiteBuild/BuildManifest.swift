import Crypto
import Foundation
import ShopCore

/// What a site folder holds, and from what: each output's path and the digest of every input
/// that went into it. Kept inside the folder it describes (the live site and its spare each have
/// one), so the next build knows which outputs it need not render again.
///
/// One line per output, `<digest> <path>`, in the plan's order (sorted by path when there is none,
/// as after a failed build): it is read and written on every build, including the no-op ones that
/// must finish in well under a second, so no JSON.
struct BuildManifest: Equatable {
    static let fileName = ".ishop-manifest"
    /// Bumped when ishop renders differently, so an old manifest never vouches for new output.
    static let formatVersion = 3
    static var header: String { "ishop-manifest \(formatVersion)" }

    /// Relative output path -> digest of its inputs.
    var outputs: [String: String] = [:]

    /// Which file holds `folder`'s manifest now: device and inode. A manifest is always written
    /// anew and renamed into place, and publishing swaps whole folders, so a manifest that changed
    /// is another file. Take it before reading: a manifest read after its identity was taken is
    /// then never older than that identity says.
    struct Identity: Equatable {
        let device: UInt64
        let inode: UInt64
    }

    static func identity(folder: String) -> Identity? {
        var status = stat()
        guard stat("\(folder)/\(fileName)", &status) == 0 else { return nil }
        return Identity(device: UInt64(status.st_dev), inode: UInt64(status.st_ino))
    }

    /// The manifest of `folder`, or nil (no folder, no manifest, another version, unreadable).
    static func load(folder: String) -> BuildManifest? {
        guard let bytes = PlainFile.readAll("\(folder)/\(fileName)") else { return nil }
        return parse(bytes)
    }

    /// Lines are found with memchr over the bytes: the generic `split` made 12,000 slices and
    /// cost more than the rest of reading the manifest.
    static func parse(_ bytes: [UInt8]) -> BuildManifest? {
        bytes.withUnsafeBufferPointer { buffer -> BuildManifest? in
            guard let base = buffer.baseAddress else { return nil }
            let end = buffer.count
            func lineEnd(from start: Int) -> Int {
                guard start < end, let found = memchr(base + start, 0x0A, end - start) else { return end }
                return UnsafeRawPointer(found) - UnsafeRawPointer(base)
            }
            let headerEnd = lineEnd(from: 0)
            guard String(decoding: UnsafeBufferPointer(rebasing: buffer[0..<headerEnd]), as: UTF8.self) == header else { return nil }
            var outputs: [String: String] = [:]
            outputs.reserveCapacity(end / 90)
            var start = headerEnd + 1
            while start < end {
                let stop = lineEnd(from: start)
                defer { start = stop + 1 }
                if stop == start { continue }
                guard let found = memchr(base + start, 0x20, stop - start) else { return nil }
                let space = UnsafeRawPointer(found) - UnsafeRawPointer(base)
                outputs[String(decoding: UnsafeBufferPointer(rebasing: buffer[(space + 1)..<stop]), as: UTF8.self)] =
                    String(decoding: UnsafeBufferPointer(rebasing: buffer[start..<space]), as: UTF8.self)
            }
            return BuildManifest(outputs: outputs)
        }
    }

    /// `order`: the paths in the order to write them (every path of `outputs`); nil sorts them.
    func encoded(order: [String]? = nil) -> [UInt8] {
        var bytes = Array((Self.header + "\n").utf8)
        bytes.reserveCapacity(outputs.count * 100)
        // By bytes, with memcmp, when sorting: String's own comparison (Unicode-aware) was slow.
        let paths = order ?? outputs.keys.sorted(by: Self.precedes)
        for path in paths {
            guard let digest = outputs[path] else { continue }
            bytes.append(contentsOf: digest.utf8)
            bytes.append(UInt8(ascii: " "))
            bytes.append(contentsOf: path.utf8)
            bytes.append(UInt8(ascii: "\n"))
        }
        return bytes
    }
}

extension BuildManifest {
    /// A manifest's bytes with the outputs and order they were made from, so that whoever writes
    /// them can check they still say what the tree holds.
    struct Encoded: Sendable {
        let outputs: [String: String]
        let order: [String]
        let bytes: [UInt8]

        init(outputs: [String: String], order: [String]) {
            self.outputs = outputs
            self.order = order
            bytes = BuildManifest(outputs: outputs).encoded(order: order)
        }
    }

    /// Byte order of two paths' UTF-8.
    static func precedes(_ left: String, _ right: String) -> Bool {
        var left = left
        var right = right
        return left.withUTF8 { a in
            right.withUTF8 { b in
                let common = min(a.count, b.count)
                let order = common == 0 ? 0 : memcmp(a.baseAddress!, b.baseAddress!, common)
                return order != 0 ? order < 0 : a.count < b.count
            }
        }
    }
}

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
