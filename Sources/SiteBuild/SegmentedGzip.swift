import CSystemCalls
import CZlib
import Foundation

/// The .gz of a feed that lists every product (the Merchant Center feed), made of segments that
/// a later build can take back unchanged: one gzip member whose deflate stream is the segments
/// one after another, each compressed on its own (a fresh compressor, ended by a sync flush so it
/// stops on a byte), then an empty final block, the CRC-32 of the whole (combined from the
/// segments' own, `crc32_combine`) and the length. pigz makes its .gz the same way, to compress
/// the pieces on several cores; here it is so that a one-product change recompresses the one
/// segment holding that product, and copies the others from the live .gz inside the kernel.
/// Recompressing the whole 30 MB feed of 10,000 products was 180 ms, most of a one-product
/// rebuild with `precompress` on (300 MB and about 2 s for 100,000 products).
///
/// Segments follow the products' pieces (FragmentRecorder): a segment ends before a piece whose
/// digest's first 16 hex digits are a multiple of 64 (about 64 products, some 200 KB; chosen by
/// content, so adding or removing a product moves no other boundary) or once it passes
/// `segmentLimit`. The bytes before the first piece and after the last (the feed's header and
/// footer) are segments of their own, made every time.
///
/// Each segment's compressor is primed with the 32 KiB before it (pigz's way), which the
/// decompressor holds as its window there: the .gz stays within 1% of a single stream's size.
///
/// A segment of the live .gz is taken only when this build's segment has the same key (the
/// digest of its pieces' product digests and lengths), the same length, and the same CRC-32 of
/// the bytes this build wrote, for the segment and (with their Adler-32 too) for the 32 KiB that
/// prime it: the .gz then always decodes to exactly the file beside it, whatever happened to the
/// live file meanwhile, and with the same zlib it is byte for byte what a build from scratch
/// writes. Reading the new file back for the checks costs a fraction of compressing it.
enum SegmentedGzip {
    /// A range of the feed, with its key when it is made of whole products' pieces.
    struct Segment: Equatable {
        let key: String?
        let raw: Range<Int>
    }

    /// A keyed segment as the written .gz holds it: recorded in the feed's index for the next build.
    struct Record: Equatable {
        let key: String
        let crc: UInt32
        /// What its compressor was primed with (the bytes before it): their length, and their
        /// CRC-32 and Adler-32 together. These bytes change without the segment's key changing (a
        /// product before it), and a segment copied after other bytes would decode wrongly: 64
        /// bits of check, not 32.
        let primeLength: Int
        let primeCheck: UInt64
        let rawLength: Int
        /// Where its compressed bytes lie in the .gz.
        let compressed: Range<Int>
    }

    /// A segment ends before a piece whose digest's first 16 hex digits have these bits clear.
    static let boundaryMask: UInt64 = 63
    /// Nor grows past this (uncompressed), however the digests fall.
    static let segmentLimit = 1 << 20
    /// Deflate's window: what a segment's compressor is primed with.
    static let primeLength = 1 << 15

    /// The segments of a file of `size` bytes holding `pieces` (in file order).
    static func segments(of pieces: [FeedFragments.Entry], size: Int, boundaryMask: UInt64 = boundaryMask, limit: Int = segmentLimit) -> [Segment] {
        var segments: [Segment] = []
        var cursor = 0
        var open: (start: Int, digest: InputDigest)?
        func close() {
            if let segment = open, cursor > segment.start { segments.append(Segment(key: segment.digest.finish(), raw: segment.start..<cursor)) }
            open = nil
        }
        for piece in pieces {
            guard !piece.range.isEmpty, piece.range.lowerBound >= cursor, piece.range.upperBound <= size else {
                // Not in file order or not inside the file: nothing is keyed, the file is one segment.
                return size > 0 ? [Segment(key: nil, raw: 0..<size)] : []
            }
            if piece.range.lowerBound > cursor {
                close()
                segments.append(Segment(key: nil, raw: cursor..<piece.range.lowerBound))
                cursor = piece.range.lowerBound
            }
            if let segment = open, (FeedFragments.hexPrefix(piece.key).map { $0 & boundaryMask == 0 } ?? false) || cursor - segment.start >= limit {
                close()
            }
            if open == nil { open = (cursor, InputDigest("gzip-segment")) }
            open?.digest.add(piece.key)
            open?.digest.add(piece.range.count)
            cursor = piece.range.upperBound
        }
        close()
        if cursor < size { segments.append(Segment(key: nil, raw: cursor..<size)) }
        return segments
    }

    /// The live .gz's segments, open for copying from.
    final class Live: Sendable {
        let descriptor: Int32
        private let records: [String: Record]

        init(descriptor: Int32, records: [Record]) {
            self.descriptor = descriptor
            var byKey: [String: Record] = [:]
            byKey.reserveCapacity(records.count)
            for record in records { byKey[record.key] = record }
            self.records = byKey
        }

        deinit {
            close(descriptor)
        }

        func record(_ key: String) -> Record? { records[key] }
    }

    /// What `write` did: the .gz's size, its keyed segments, and how many were taken from the live .gz.
    struct Written {
        let bytes: Int
        let records: [Record]
        let reused: Int
    }

    /// Writes the .gz of the file open as `source` (`size` bytes, split into `segments`) to the
    /// new file open as `destination` (`path`), taking from `live` the segments it holds as they
    /// must be.
    static func write(
        from source: Int32, size: Int, segments: [Segment], to destination: Int32, path: String, live: Live?, level: Int32 = 6
    ) throws -> Written {
        let feedPath = path.hasSuffix(".gz") ? String(path.dropLast(3)) : path
        var stream = z_stream()
        guard ishop_deflate_init_raw(&stream, level) == Z_OK else { throw BuildError(.write, file: path, "cannot start gzip") }
        defer { deflateEnd(&stream) }
        var output = Output(descriptor: destination, path: path)
        // The gzip header: deflate, no name, no time (the same bytes every build), Unix.
        try output.append([0x1F, 0x8B, 0x08, 0x00, 0, 0, 0, 0, 0x00, 0x03])
        var crc = UInt32(crc32(0, nil, 0))
        var records: [Record] = []
        var reused = 0
        var input = [UInt8](repeating: 0, count: 1 << 18)
        var compressed = [UInt8](repeating: 0, count: 1 << 17)

        var prime = [UInt8](repeating: 0, count: primeLength)
        for segment in segments {
            let start = output.offset
            var segmentCRC = UInt32(crc32(0, nil, 0))
            // Each compressor starts primed with the 32 KiB before its segment, as pigz does: the
            // decompressor has them as its window there, and the ratio stays a single stream's.
            let primed = max(0, segment.raw.lowerBound - primeLength)..<segment.raw.lowerBound
            // A build that failed elsewhere cancels the feed: stop rather than compress 300 MB.
            try Task.checkCancellation()
            try readWhole(source, primed, into: &prime, path: feedPath)
            let primeCheck = prime.withUnsafeBufferPointer { bytes -> UInt64 in
                let crc = crc32(crc32(0, nil, 0), bytes.baseAddress, uInt(primed.count))
                let adler = adler32(adler32(0, nil, 0), bytes.baseAddress, uInt(primed.count))
                return UInt64(UInt32(truncatingIfNeeded: crc)) << 32 | UInt64(UInt32(truncatingIfNeeded: adler))
            }
            // A live segment that may fit: the bytes this build wrote, read back, decide (CRC-32 of
            // the segment and of what its compressor was primed with).
            var fits = false
            if let live, let key = segment.key, let found = live.record(key), found.rawLength == segment.raw.count,
               found.primeLength == primed.count, found.primeCheck == primeCheck {
                try read(source, segment.raw, into: &input, path: feedPath) { chunk in
                    segmentCRC = UInt32(crc32(uLong(segmentCRC), chunk.baseAddress, uInt(chunk.count)))
                }
                fits = found.crc == segmentCRC
                if fits {
                    try output.copy(from: live.descriptor, range: found.compressed)
                    reused += 1
                }
                segmentCRC = fits ? segmentCRC : UInt32(crc32(0, nil, 0))
            }
            if !fits {
                guard deflateReset(&stream) == Z_OK,
                      primed.isEmpty || prime.withUnsafeBufferPointer({ deflateSetDictionary(&stream, $0.baseAddress, uInt(primed.count)) }) == Z_OK
                else { throw BuildError(.write, file: path, "gzip failed") }
                var remaining = segment.raw.count
                try read(source, segment.raw, into: &input, path: feedPath) { chunk in
                    segmentCRC = UInt32(crc32(uLong(segmentCRC), chunk.baseAddress, uInt(chunk.count)))
                    remaining -= chunk.count
                    stream.next_in = UnsafeMutablePointer(mutating: chunk.baseAddress)
                    stream.avail_in = uInt(chunk.count)
                    // A segment ends on a byte (sync flush) and is not the last block: the next
                    // segment, or the final empty block, follows it.
                    let flush = remaining == 0 ? Z_SYNC_FLUSH : Z_NO_FLUSH
                    repeat {
                        let produced: Int = try compressed.withUnsafeMutableBufferPointer { out in
                            stream.next_out = out.baseAddress
                            stream.avail_out = uInt(out.count)
                            guard deflate(&stream, flush) != Z_STREAM_ERROR else { throw BuildError(.write, file: path, "gzip failed") }
                            return out.count - Int(stream.avail_out)
                        }
                        try compressed.withUnsafeBufferPointer { try output.append(UnsafeBufferPointer(rebasing: $0[..<produced])) }
                    } while stream.avail_out == 0
                }
            }
            if let key = segment.key {
                records.append(Record(key: key, crc: segmentCRC, primeLength: primed.count, primeCheck: primeCheck, rawLength: segment.raw.count, compressed: start..<output.offset))
            }
            crc = UInt32(crc32_combine(uLong(crc), uLong(segmentCRC), Int(segment.raw.count)))
        }
        // The final block (fixed Huffman, empty), then the trailer: CRC-32 and length, little-endian.
        var trailer: [UInt8] = [0x03, 0x00]
        for shift in stride(from: 0, to: 32, by: 8) { trailer.append(UInt8(truncatingIfNeeded: crc >> UInt32(shift))) }
        for shift in stride(from: 0, to: 32, by: 8) { trailer.append(UInt8(truncatingIfNeeded: UInt64(size) >> UInt64(shift))) }
        try output.append(trailer)
        try output.flush()
        return Written(bytes: output.offset, records: records, reused: reused)
    }

    /// Reads `range` of `descriptor` a buffer at a time, handing each chunk to `body`.
    private static func read(
        _ descriptor: Int32, _ range: Range<Int>, into buffer: inout [UInt8], path: String,
        _ body: (UnsafeBufferPointer<UInt8>) throws -> Void
    ) throws {
        var position = range.lowerBound
        while position < range.upperBound {
            let want = min(buffer.count, range.upperBound - position)
            let got = buffer.withUnsafeMutableBytes { pread(descriptor, $0.baseAddress!, want, off_t(position)) }
            if got < 0 && errno == EINTR { continue }
            guard got > 0 else {
                throw BuildError(.write, file: path, "cannot read the feed back: \(got < 0 ? String(cString: strerror(errno)) : "it is shorter than written")")
            }
            try buffer.withUnsafeBufferPointer { try body(UnsafeBufferPointer(rebasing: $0[..<got])) }
            position += got
        }
    }

    /// Reads `range` of `descriptor` into the start of `buffer` (at least as long), whole.
    private static func readWhole(_ descriptor: Int32, _ range: Range<Int>, into buffer: inout [UInt8], path: String) throws {
        var filled = 0
        while filled < range.count {
            let got = buffer.withUnsafeMutableBytes { pread(descriptor, $0.baseAddress! + filled, range.count - filled, off_t(range.lowerBound + filled)) }
            if got < 0 && errno == EINTR { continue }
            guard got > 0 else {
                throw BuildError(.write, file: path, "cannot read the feed back: \(got < 0 ? String(cString: strerror(errno)) : "it is shorter than written")")
            }
            filled += got
        }
    }

    /// The .gz being written: small pieces gathered into one write, ranges of the live .gz copied
    /// inside the kernel.
    private struct Output {
        let descriptor: Int32
        let path: String
        private var pending: [UInt8] = []
        private(set) var offset = 0

        init(descriptor: Int32, path: String) {
            self.descriptor = descriptor
            self.path = path
            pending.reserveCapacity(1 << 18)
        }

        mutating func append(_ bytes: [UInt8]) throws {
            try bytes.withUnsafeBufferPointer { try append($0) }
        }

        mutating func append(_ bytes: UnsafeBufferPointer<UInt8>) throws {
            pending.append(contentsOf: bytes)
            offset += bytes.count
            if pending.count >= 1 << 18 { try flush() }
        }

        mutating func copy(from live: Int32, range: Range<Int>) throws {
            try flush()
            guard ishop_copy_range(live, Int64(range.lowerBound), descriptor, Int64(range.count)) == 0 else {
                throw BuildError(.write, file: path, "cannot copy from the live .gz: \(String(cString: strerror(errno)))")
            }
            offset += range.count
        }

        mutating func flush() throws {
            try pending.withUnsafeBytes { try StreamingFile.writeAll(descriptor, $0, path: path) }
            pending.removeAll(keepingCapacity: true)
        }
    }
}
