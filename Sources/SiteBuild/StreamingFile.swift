import CSystemCalls
import Foundation

/// A large text output (the Merchant Center feed of 100,000 products is 300 MB) written as it is
/// made, a quarter megabyte at a time: memory stays flat however large the catalog. Its .gz is
/// made at the end from the file, in segments that the next build can take back from it
/// (SegmentedGzip), and removed when it is not smaller.
final class StreamingFile {
    let path: String
    private let descriptor: Int32
    private let compress: Bool
    private var gzipDescriptor: Int32 = -1
    private var buffer: [UInt8] = []
    private(set) var bytes = 0
    private(set) var compressedBytes = 0
    /// The written file's device and inode ("dev:ino"), known after `finish`.
    private(set) var identity = ""
    /// After `finish`, when a .gz stays: its identity (FeedFragments.gzipIdentity) and its keyed
    /// segments, for the feed's index.
    private(set) var gzipIdentity = ""
    private(set) var gzipSegments: [SegmentedGzip.Record] = []
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
        self.compress = compress && Gzip.isText(path)
        unlink(path)
        // Read and write: the .gz is made from the file as written (SegmentedGzip reads it back).
        descriptor = open(path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0o644)
        guard descriptor >= 0 else { throw BuildError(.write, file: path, "cannot be created: \(String(cString: strerror(errno)))") }
        // A .gz of an earlier version must never stand beside the new file.
        unlink(path + ".gz")
        buffer.reserveCapacity(Self.flushSize + 4096)
    }

    /// A file not finished (an error, a cancelled build) is removed, and its .gz: half a feed,
    /// or a feed without its .gz, is never left.
    deinit {
        if !finished {
            if descriptor >= 0 {
                close(descriptor)
                unlink(path)
            }
            if gzipDescriptor >= 0 {
                close(gzipDescriptor)
                unlink(path + ".gz")
            }
        }
    }

    func append(_ text: String) throws {
        buffer.append(contentsOf: text.utf8)
        if buffer.count >= Self.flushSize { try flush() }
    }

    func append(bytes: [UInt8]) throws {
        buffer.append(contentsOf: bytes)
        if buffer.count >= Self.flushSize { try flush() }
    }

    /// Appends `range` of the file open as `source`, inside the kernel (ishop_copy_range): the
    /// bytes never pass through this process.
    func copy(from source: Int32, range: Range<Int>) throws {
        guard !range.isEmpty else { return }
        try flush()
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

    private func flush() throws {
        // A build that failed elsewhere cancels the feed's task: stop rather than write 300 MB.
        try Task.checkCancellation()
        try buffer.withUnsafeBytes { chunk in
            try Self.writeAll(descriptor, chunk, path: path)
            if startWriteback { ishop_start_writeback(descriptor) }
        }
        bytes += buffer.count
        buffer.removeAll(keepingCapacity: true)
    }

    /// Flushes and closes; returns the bytes on disk and whether a .gz stays beside the file.
    /// `pieces`: where each product's piece lies, in file order (the .gz's segments follow them);
    /// `live`: the live .gz's segments, taken where they hold what this file holds.
    func finish(pieces: [FeedFragments.Entry] = [], live: SegmentedGzip.Live? = nil) throws -> WrittenFile {
        try flush()
        var status = stat()
        if fstat(descriptor, &status) == 0 { identity = "\(status.st_dev):\(status.st_ino)" }
        // As for every output: a .gz only for a file worth compressing, and only when smaller.
        guard compress, bytes >= Gzip.minimumSize else {
            finished = true
            close(descriptor)
            return WrittenFile(bytes: bytes, compressed: false)
        }
        gzipDescriptor = open(path + ".gz", O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o644)
        guard gzipDescriptor >= 0 else {
            throw BuildError(.write, file: path + ".gz", "cannot be created: \(String(cString: strerror(errno)))")
        }
        let written = try SegmentedGzip.write(
            from: descriptor, size: bytes, segments: SegmentedGzip.segments(of: pieces, size: bytes), to: gzipDescriptor,
            path: path + ".gz", live: live)
        if startWriteback { ishop_start_writeback(gzipDescriptor) }
        if fstat(gzipDescriptor, &status) == 0 { gzipIdentity = FeedFragments.gzipIdentity(status) }
        finished = true
        close(descriptor)
        close(gzipDescriptor)
        guard written.bytes < bytes else {
            unlink(path + ".gz")
            gzipIdentity = ""
            return WrittenFile(bytes: bytes, compressed: false)
        }
        compressedBytes = written.bytes
        gzipSegments = written.records
        return WrittenFile(bytes: bytes + compressedBytes, compressed: true, segmentsReused: written.reused)
    }

    /// All of `chunk`, however many calls it takes (short writes, EINTR).
    static func writeAll(_ descriptor: Int32, _ chunk: UnsafeRawBufferPointer, path: String) throws {
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
