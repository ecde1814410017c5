import CSystemCalls
import CZlib
import Foundation

/// A large text output (the Merchant Center feed of 100,000 products is 300 MB) written as it is
/// made, a quarter megabyte at a time, with its .gz made alongside by a streaming deflate: memory
/// stays flat however large the catalog. The .gz is removed at the end when it is not smaller.
final class StreamingFile {
    let path: String
    private let descriptor: Int32
    private var gzipDescriptor: Int32 = -1
    private var deflating = false
    private var stream = z_stream()
    private var buffer: [UInt8] = []
    private var compressedOut = [UInt8](repeating: 0, count: 1 << 16)
    private(set) var bytes = 0
    private(set) var compressedBytes = 0
    /// The written file's device and inode ("dev:ino"), known after `finish`.
    private(set) var identity = ""
    /// Where the next byte appended will stand in the file.
    var offset: Int { bytes + buffer.count }
    private var finished = false
    /// Each chunk's writeback starts as it is written (OutputTree.Writer.startWriteback), so the
    /// sync before publishing finds little left to wait for.
    private let startWriteback: Bool
    static let flushSize = 1 << 18

    init(path: String, compress: Bool, startWriteback: Bool = false) throws {
        self.path = path
        self.startWriteback = startWriteback
        unlink(path)
        descriptor = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o644)
        guard descriptor >= 0 else { throw BuildError(.write, file: path, "cannot be created: \(String(cString: strerror(errno)))") }
        // A .gz of an earlier version must never stand beside the new file.
        unlink(path + ".gz")
        if compress && Gzip.isText(path) {
            gzipDescriptor = open(path + ".gz", O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o644)
            // On failure deinit closes and removes what was opened (closing here too would close a
            // descriptor number that another thread may have been given meanwhile).
            guard gzipDescriptor >= 0 else {
                throw BuildError(.write, file: path + ".gz", "cannot be created: \(String(cString: strerror(errno)))")
            }
            guard ishop_deflate_init_gzip(&stream, 6) == Z_OK else {
                throw BuildError(.write, file: path + ".gz", "cannot start gzip")
            }
            deflating = true
        }
        buffer.reserveCapacity(Self.flushSize + 4096)
    }

    /// A file not finished (an error, a cancelled build) is removed: half a feed is never left.
    deinit {
        if !finished {
            if descriptor >= 0 {
                close(descriptor)
                unlink(path)
            }
            if deflating { deflateEnd(&stream) }
            if gzipDescriptor >= 0 {
                close(gzipDescriptor)
                unlink(path + ".gz")
            }
        }
    }

    func append(_ text: String) throws {
        buffer.append(contentsOf: text.utf8)
        if buffer.count >= Self.flushSize { try flush(final: false) }
    }

    func append(bytes: [UInt8]) throws {
        buffer.append(contentsOf: bytes)
        if buffer.count >= Self.flushSize { try flush(final: false) }
    }

    /// Appends `range` of the file open as `source`. Without a .gz to make, inside the kernel
    /// (ishop_copy_range): the bytes never pass through this process. With one, through memory,
    /// since deflate must see them.
    func copy(from source: Int32, range: Range<Int>) throws {
        guard !range.isEmpty else { return }
        if gzipDescriptor >= 0 {
            var position = range.lowerBound
            var chunk = [UInt8](repeating: 0, count: min(Self.flushSize, range.count))
            while position < range.upperBound {
                let want = min(chunk.count, range.upperBound - position)
                let got = chunk.withUnsafeMutableBytes { pread(source, $0.baseAddress!, want, off_t(position)) }
                if got < 0 && errno == EINTR { continue }
                guard got > 0 else { throw BuildError(.write, file: path, "cannot copy from the live file: \(got < 0 ? String(cString: strerror(errno)) : "it is shorter than its index says")") }
                buffer.append(contentsOf: chunk[0..<got])
                if buffer.count >= Self.flushSize { try flush(final: false) }
                position += got
            }
            return
        }
        try flush(final: false)
        guard ishop_copy_range(source, Int64(range.lowerBound), descriptor, Int64(range.count)) == 0 else {
            throw BuildError(.write, file: path, "cannot copy from the live file: \(String(cString: strerror(errno)))")
        }
        bytes += range.count
        if startWriteback { ishop_start_writeback(descriptor) }
    }

    /// Catalog text, escaped for XML.
    func appendXML(_ text: String) throws {
        try append(XMLText.escaped(text))
    }

    private func flush(final: Bool) throws {
        // A build that failed elsewhere cancels the feed's task: stop rather than write 300 MB.
        try Task.checkCancellation()
        try buffer.withUnsafeBytes { chunk in
            try Self.writeAll(descriptor, chunk, path: path)
            if startWriteback { ishop_start_writeback(descriptor) }
            guard gzipDescriptor >= 0 else { return }
            stream.next_in = UnsafeMutablePointer(mutating: chunk.baseAddress?.assumingMemoryBound(to: Bytef.self))
            stream.avail_in = uInt(chunk.count)
            repeat {
                let produced: Int = try compressedOut.withUnsafeMutableBufferPointer { out in
                    stream.next_out = out.baseAddress
                    stream.avail_out = uInt(out.count)
                    let status = deflate(&stream, final ? Z_FINISH : Z_NO_FLUSH)
                    guard status != Z_STREAM_ERROR else { throw BuildError(.write, file: path + ".gz", "gzip failed") }
                    return out.count - Int(stream.avail_out)
                }
                try compressedOut.withUnsafeBytes { try Self.writeAll(gzipDescriptor, UnsafeRawBufferPointer(rebasing: $0[..<produced]), path: path + ".gz") }
                compressedBytes += produced
            } while stream.avail_out == 0 || (final && stream.avail_in > 0)
            if startWriteback { ishop_start_writeback(gzipDescriptor) }
        }
        bytes += buffer.count
        buffer.removeAll(keepingCapacity: true)
    }

    /// Flushes and closes; returns the bytes on disk and whether a .gz stays beside the file.
    func finish() throws -> WrittenFile {
        try flush(final: true)
        var status = stat()
        if fstat(descriptor, &status) == 0 { identity = "\(status.st_dev):\(status.st_ino)" }
        finished = true
        close(descriptor)
        guard gzipDescriptor >= 0 else { return WrittenFile(bytes: bytes, compressed: false) }
        deflateEnd(&stream)
        deflating = false
        close(gzipDescriptor)
        // As for every output: a .gz only when it is smaller (and the file worth compressing).
        if compressedBytes >= bytes || bytes < Gzip.minimumSize {
            unlink(path + ".gz")
            return WrittenFile(bytes: bytes, compressed: false)
        }
        return WrittenFile(bytes: bytes + compressedBytes, compressed: true)
    }

    private static func writeAll(_ descriptor: Int32, _ chunk: UnsafeRawBufferPointer, path: String) throws {
        var offset = 0
        while offset < chunk.count {
            let written = Glibc.write(descriptor, chunk.baseAddress! + offset, chunk.count - offset)
            if written < 0 {
                if errno == EINTR { continue }
                throw BuildError(.write, file: path, "cannot be written: \(String(cString: strerror(errno)))")
            }
            offset += written
        }
    }
}
