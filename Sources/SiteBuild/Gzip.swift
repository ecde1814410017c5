import CZlib

/// gzip for precompressed outputs (Nginx's `gzip_static` serves `page.html.gz` as is).
enum Gzip {
    /// Extensions of the text files that get a `.gz` beside them.
    static let textExtensions: Set<Substring> = ["html", "xml", "json", "txt", "css", "js", "svg", "md"]
    /// Below this, gzip's own header and trailer eat the gain.
    static let minimumSize = 256

    static func isText(_ relativePath: String) -> Bool {
        guard let dot = relativePath.lastIndex(of: "."), !relativePath[dot...].contains("/") else { return false }
        return textExtensions.contains(relativePath[relativePath.index(after: dot)...])
    }

    /// The gzip encoding of `input` at `level` (1 fast ... 9 small), or nil if zlib failed.
    static func compress(_ input: UnsafeRawBufferPointer, level: Int32 = 6) -> [UInt8]? {
        var stream = z_stream()
        guard ishop_deflate_init_gzip(&stream, level) == Z_OK else { return nil }
        defer { deflateEnd(&stream) }
        let capacity = Int(deflateBound(&stream, uLong(input.count)))
        var output = [UInt8](repeating: 0, count: capacity)
        let status: Int32 = output.withUnsafeMutableBufferPointer { out in
            stream.next_in = UnsafeMutablePointer(mutating: input.baseAddress?.assumingMemoryBound(to: Bytef.self))
            stream.avail_in = uInt(input.count)
            stream.next_out = out.baseAddress
            stream.avail_out = uInt(out.count)
            // The bound guarantees one call with Z_FINISH completes.
            return deflate(&stream, Z_FINISH)
        }
        guard status == Z_STREAM_END else { return nil }
        output.removeLast(Int(stream.avail_out))
        return output
    }
}
