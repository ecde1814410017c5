/// What a worker wrote: the bytes (page and .gz) and whether it wrote a .gz (none when the file was
/// linked from the live site unchanged).
struct WrittenFile: Sendable {
    let bytes: Int
    let compressed: Bool
    /// Segments of its .gz taken from the live .gz (the Merchant Center feed's: SegmentedGzip).
    var segmentsReused = 0
}

/// A page rendered on a worker, with its .gz made there too.
struct RenderedPage: Sendable {
    func write(to relativePath: String, with writer: OutputTree.Writer) throws -> WrittenFile {
        try html.withUnsafeBytes { try writer.write(relativePath, bytes: $0, compressed: compressed) }
    }

    let path: String
    let html: [UInt8]
    let compressed: [UInt8]?

    init(path: String, html: String, precompress: Bool) {
        self.init(path: path, html: Array(html.utf8), precompress: precompress)
    }

    init(path: String, html bytes: [UInt8], precompress: Bool) {
        self.path = path
        self.html = bytes
        // A page's path is its address ("/products/x/"): the file is its index.html.
        let file = path.hasSuffix("/") ? "index.html" : path
        compressed = precompress ? bytes.withUnsafeBytes { OutputTree.compressedCopy(of: $0, path: file) } : nil
    }
}
