import Crypto
import Foundation

/// The per-product pieces of a feed that lists every product (the Merchant Center feed, the search
/// index), as the live site's copy has them: when one product changes, the feed is made from the
/// other products' pieces as they stand in that file, and only the changed product's piece is
/// made again. The Merchant Center feed of 10,000 products is 30 MB: making all of it again was
/// most of a one-product rebuild.
///
/// Where each piece lies is recorded by the build that writes a feed, in an index kept outside the
/// publish folder (`.ishop/feeds/`, named by the feed's digest): a piece is found by its product's
/// digest (every stored field and its pictures' sets), so a piece that is found is the one this
/// build would make. An index is trusted only for the very file it was written for (same digest
/// in the live manifest, same size, and the same file: its device and inode when it is copied by
/// range, the SHA-256 of its bytes when it is read whole) and the same frame (settings the pieces
/// depend on, the ishop format); otherwise every piece is made again, which is only slower. The
/// index of the Merchant Center feed also lists its .gz's segments (SegmentedGzip), taken from the
/// live .gz when it is still the file the index names.
final class FeedFragments: Sendable {
    /// The live feed, open for reading: pieces are copied from it (StreamingFile.copy).
    let descriptor: Int32
    /// The live feed's bytes, when loaded with `inMemory` (pieces appended to a buffer).
    private let bytes: [UInt8]?
    /// Each piece's product digest and where it lies in the live feed, in the live feed's order
    /// (the catalog's, which rarely changes: a product is looked for at its own position first).
    private let entries: [Entry]
    /// The first 16 hex digits of each digest -> its entry, for products that moved: hashing an
    /// integer rather than 64 characters, and the entry's whole digest is compared before use.
    private let byPrefix: [UInt64: Int]
    /// The live .gz's segments, when its index describes them and it is still that file.
    let gzip: SegmentedGzip.Live?

    struct Entry {
        let key: String
        let range: Range<Int>
    }

    var count: Int { entries.count }

    static let header = "ishop-feed-fragments 3"

    /// The index file of the feed `feedPath` ("merchant-feed.xml") whose digest is `digest`,
    /// published into `publishPath`: two output folders of one site (`ishop build --out`) write
    /// the same feed into different files, and each keeps its own index.
    static func indexPath(folder: String, feedPath: String, digest: String, publishPath: String) -> String {
        var site = InputDigest("publish-folder")
        site.add(publishPath)
        return "\(folder)/\(feedPath).\(site.finish().prefix(16)).\(digest).index"
    }

    /// The pieces of the live copy of `feedPath` under `publishPath`, whose digest the live
    /// manifest gives as `liveDigest`; nil when there is no index that can be trusted for it.
    /// `inMemory`: the file is read whole, for `append`; otherwise pieces are copied by range.
    /// `gzip`: the live .gz's segments are wanted too (a build that writes a .gz).
    static func load(
        folder: String, feedPath: String, publishPath: String, liveDigest: String?, frame: String, inMemory: Bool, gzip: Bool = false
    ) -> FeedFragments? {
        guard let liveDigest, let index = PlainFile.readAll(indexPath(folder: folder, feedPath: feedPath, digest: liveDigest, publishPath: publishPath)) else { return nil }
        let descriptor = open("\(publishPath)/\(feedPath)", O_RDONLY | O_CLOEXEC)
        guard descriptor >= 0 else { return nil }
        var status = stat()
        guard fstat(descriptor, &status) == 0, (status.st_mode & S_IFMT) == S_IFREG else {
            close(descriptor)
            return nil
        }
        var bytes: [UInt8]?
        let identity: String
        if inMemory {
            bytes = PlainFile.readAll(descriptor: descriptor, size: Int(status.st_size))
            guard let bytes else {
                close(descriptor)
                return nil
            }
            identity = contentIdentity(bytes)
        } else {
            identity = fileIdentity(status)
        }
        guard let parsed = parse(index: index, size: Int(status.st_size), digest: liveDigest, frame: frame, identity: identity) else {
            close(descriptor)
            return nil
        }
        return FeedFragments(descriptor: descriptor, bytes: bytes, entries: parsed.entries,
                             gzip: gzip ? parsed.gzip.flatMap { liveGzip($0, path: "\(publishPath)/\(feedPath).gz") } : nil)
    }

    /// The live .gz, open, when it is the very file the index describes (device, inode, size).
    private static func liveGzip(_ index: GzipIndex, path: String) -> SegmentedGzip.Live? {
        let descriptor = open(path, O_RDONLY | O_CLOEXEC)
        guard descriptor >= 0 else { return nil }
        var status = stat()
        guard fstat(descriptor, &status) == 0, (status.st_mode & S_IFMT) == S_IFREG, gzipIdentity(status) == index.identity,
              Int(status.st_size) == index.size
        else {
            close(descriptor)
            return nil
        }
        return SegmentedGzip.Live(descriptor: descriptor, records: index.segments)
    }

    private init(descriptor: Int32, bytes: [UInt8]?, entries: [Entry], gzip: SegmentedGzip.Live?) {
        self.descriptor = descriptor
        self.bytes = bytes
        self.entries = entries
        self.gzip = gzip
        var byPrefix: [UInt64: Int] = [:]
        byPrefix.reserveCapacity(entries.count)
        for (position, entry) in entries.enumerated() {
            if let prefix = Self.hexPrefix(entry.key), byPrefix[prefix] == nil { byPrefix[prefix] = position }
        }
        self.byPrefix = byPrefix
    }

    deinit {
        close(descriptor)
    }

    /// What an index says of the .gz beside its feed (SegmentedGzip).
    struct GzipIndex {
        let identity: String
        let size: Int
        let segments: [SegmentedGzip.Record]
    }

    /// Parses an index written by `FragmentRecorder.save`; nil when it is not one, or not for this
    /// feed, frame and size. Lines are found with memchr (the generic `split` cost more than the rest).
    static func parse(index: [UInt8], size: Int, digest: String, frame: String, identity: String) -> (entries: [Entry], gzip: GzipIndex?)? {
        index.withUnsafeBufferPointer { buffer -> (entries: [Entry], gzip: GzipIndex?)? in
            guard let base = buffer.baseAddress else { return nil }
            let end = buffer.count
            func find(_ byte: Int32, from start: Int, to stop: Int) -> Int? {
                guard start < stop, let found = memchr(base + start, byte, stop - start) else { return nil }
                return UnsafeRawPointer(found) - UnsafeRawPointer(base)
            }
            func text(_ range: Range<Int>) -> String { String(decoding: UnsafeBufferPointer(rebasing: buffer[range]), as: UTF8.self) }
            guard let first = find(0x0A, from: 0, to: end), text(0..<first) == header,
                  let second = find(0x0A, from: first + 1, to: end), text((first + 1)..<second) == "\(digest) \(frame) \(size) \(identity)"
            else { return nil }
            var entries: [Entry] = []
            entries.reserveCapacity(end / 90)
            var start = second + 1
            let gzipMark = Array("gzip ".utf8)
            while start < end {
                guard let stop = find(0x0A, from: start, to: end) else { return nil }
                if stop - start > gzipMark.count, buffer[start..<(start + gzipMark.count)].elementsEqual(gzipMark) { break }
                guard let space = find(0x20, from: start, to: stop), let next = find(0x20, from: space + 1, to: stop),
                      let offset = number(buffer[(space + 1)..<next]), let length = number(buffer[(next + 1)..<stop]),
                      length > 0, offset <= size - length
                else { return nil }
                entries.append(Entry(key: text(start..<space), range: offset..<(offset + length)))
                start = stop + 1
            }
            guard start < end else { return (entries, nil) }
            // "gzip <identity> <size>", then a line per keyed segment: key, CRC-32, the length and
            // check of what its compressor was primed with, length, and where it lies in the .gz.
            // A damaged section costs the .gz's segments only: the pieces above stand.
            func gzipSection() -> GzipIndex? {
                guard let stop = find(0x0A, from: start, to: end) else { return nil }
                let fields = text((start + gzipMark.count)..<stop).split(separator: " ")
                guard fields.count == 2, let gzipSize = Int(fields[1]), gzipSize > 0 else { return nil }
                var segments: [SegmentedGzip.Record] = []
                var line = stop + 1
                while line < end {
                    guard let stop = find(0x0A, from: line, to: end) else { return nil }
                    let parts = buffer[line..<stop].split(separator: 0x20, omittingEmptySubsequences: false)
                    guard parts.count == 7, let crc = number(parts[1]), crc <= Int(UInt32.max), let primeLength = number(parts[2]),
                          let primeCheck = UInt64(String(decoding: parts[3], as: UTF8.self)), let rawLength = number(parts[4]),
                          let offset = number(parts[5]), let length = number(parts[6]), rawLength > 0, length > 0,
                          offset <= gzipSize - length
                    else { return nil }
                    segments.append(SegmentedGzip.Record(
                        key: String(decoding: parts[0], as: UTF8.self), crc: UInt32(crc), primeLength: primeLength,
                        primeCheck: primeCheck, rawLength: rawLength, compressed: offset..<(offset + length)))
                    line = stop + 1
                }
                return GzipIndex(identity: String(fields[0]), size: gzipSize, segments: segments)
            }
            return (entries, gzipSection())
        }
    }

    /// What identifies a file copied by range: its device and inode. A feed is always written as a
    /// new file, so another file at the same path (a build that published meanwhile) differs.
    static func fileIdentity(_ status: stat) -> String {
        "\(status.st_dev):\(status.st_ino)"
    }

    /// What identifies a .gz whose segments are copied by range: its device, inode and time of
    /// last change. Nothing checks a copied segment's compressed bytes, so a .gz written into
    /// in place (which changes that time) is not used.
    static func gzipIdentity(_ status: stat) -> String {
        "\(status.st_dev):\(status.st_ino):\(status.st_mtim.tv_sec).\(status.st_mtim.tv_nsec)"
    }

    /// What identifies a file read whole: the SHA-256 of its bytes.
    static func contentIdentity(_ bytes: [UInt8]) -> String {
        "sha256:" + InputDigest.hex(SHA256.hash(data: bytes))
    }

    /// Where the piece of the product whose digest is `key` lies in the live feed. `position`:
    /// the product's place in the catalog, where it stood in the last build too unless products
    /// were added or removed before it.
    func range(of key: String, at position: Int) -> Range<Int>? {
        if position < entries.count, entries[position].key == key { return entries[position].range }
        guard let prefix = Self.hexPrefix(key), let found = byPrefix[prefix], entries[found].key == key else { return nil }
        return entries[found].range
    }

    /// Appends the piece of the product whose digest is `key` (at `position` in the catalog) to
    /// `out`, for a feed loaded `inMemory`; false when there is none.
    func append(_ key: String, at position: Int, to out: inout [UInt8]) -> Bool {
        guard let bytes, let range = range(of: key, at: position) else { return false }
        out.append(contentsOf: bytes[range])
        return true
    }

    /// The value of a digest's first 16 hex digits (nil if it does not start with 16).
    static func hexPrefix(_ key: String) -> UInt64? {
        var value: UInt64 = 0
        var digits = 0
        for byte in key.utf8.prefix(16) {
            let digit: UInt8
            switch byte {
            case 0x30...0x39: digit = byte - 0x30
            case 0x61...0x66: digit = byte - 0x61 + 10
            default: return nil
            }
            value = value << 4 | UInt64(digit)
            digits += 1
        }
        return digits == 16 ? value : nil
    }

    private static func number(_ digits: Slice<UnsafeBufferPointer<UInt8>>) -> Int? {
        guard !digits.isEmpty, digits.count <= 15 else { return nil }
        var value = 0
        for digit in digits {
            guard (0x30...0x39).contains(digit) else { return nil }
            value = value * 10 + Int(digit - 0x30)
        }
        return value
    }
}

/// Notes where each product's piece lands in a feed as it is written, and saves that as the index
/// the next build reads (FeedFragments).
struct FragmentRecorder {
    /// Each piece recorded, in file order: the index lists them, and the .gz's segments follow
    /// them (SegmentedGzip).
    private(set) var recorded: [FeedFragments.Entry] = []
    var pieces: Int { recorded.count }
    /// The .gz written beside the feed (its identity, size and keyed segments), when there is
    /// one: the next build takes unchanged segments from it.
    var gzip: (identity: String, size: Int, segments: [SegmentedGzip.Record])?

    init(expected: Int) {
        recorded.reserveCapacity(expected)
    }

    mutating func record(key: String, offset: Int, length: Int) {
        guard length > 0 else { return }
        recorded.append(FeedFragments.Entry(key: key, range: offset..<(offset + length)))
    }

    /// The index's piece lines ("key offset length"), by hand: string interpolation per product
    /// was most of recording.
    private func pieceLines() -> [UInt8] {
        var lines: [UInt8] = []
        lines.reserveCapacity(recorded.count * 90)
        for entry in recorded {
            lines.append(contentsOf: entry.key.utf8)
            lines.append(0x20)
            Self.appendDigits(entry.range.lowerBound, to: &lines)
            lines.append(0x20)
            Self.appendDigits(entry.range.count, to: &lines)
            lines.append(0x0A)
        }
        return lines
    }

    private static func appendDigits(_ number: Int, to lines: inout [UInt8]) {
        var digits: (UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8,
                     UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8) =
            (0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0)
        var count = 0
        var rest = max(0, number)
        withUnsafeMutableBytes(of: &digits) { buffer in
            repeat {
                buffer[19 - count] = UInt8(0x30 + rest % 10)
                rest /= 10
                count += 1
            } while rest > 0
            lines.append(contentsOf: buffer[(20 - count)...])
        }
    }

    /// Indexes kept per feed: this build's and the live site's, and as many again for a second
    /// output folder of the same site (`ishop build --out`), which would otherwise remove these.
    static let indexesKept = 4

    /// Writes the index of the feed `feedPath` with digest `digest` (written, `size` bytes, the
    /// file `identity` as FeedFragments.fileIdentity or contentIdentity gives it) into
    /// `folder`, and removes the oldest indexes of other versions of it, never `keep` (the live
    /// one, which stays live if this build fails). Failing to save costs the next build time,
    /// never correctness: it is not an error.
    func save(
        folder: String, feedPath: String, publishPath: String, digest: String, frame: String, size: Int, identity: String, keep: String?
    ) -> Bool {
        guard !identity.isEmpty, (try? OutputTree.makeDirectories(folder)) != nil else { return false }
        let path = FeedFragments.indexPath(folder: folder, feedPath: feedPath, digest: digest, publishPath: publishPath)
        var text = Array("\(FeedFragments.header)\n\(digest) \(frame) \(size) \(identity)\n".utf8)
        text.append(contentsOf: pieceLines())
        if let gzip, !gzip.identity.isEmpty {
            text.append(contentsOf: "gzip \(gzip.identity) \(gzip.size)\n".utf8)
            for segment in gzip.segments {
                text.append(contentsOf: "\(segment.key) \(segment.crc) \(segment.primeLength) \(segment.primeCheck) \(segment.rawLength) \(segment.compressed.lowerBound) \(segment.compressed.count)\n".utf8)
            }
        }
        guard (try? text.withUnsafeBytes({ try OutputTree.writeFile(at: path + ".new", bytes: $0) })) != nil,
              rename(path + ".new", path) == 0
        else {
            unlink(path + ".new")
            return false
        }
        let kept = Set([path] + (keep.map { [FeedFragments.indexPath(folder: folder, feedPath: feedPath, digest: $0, publishPath: publishPath)] } ?? []))
        var others: [(path: String, modified: Int)] = []
        for name in (try? FileManager.default.contentsOfDirectory(atPath: folder)) ?? [] where name.hasPrefix(feedPath + ".") {
            let other = "\(folder)/\(name)"
            var status = stat()
            guard !kept.contains(other), stat(other, &status) == 0 else { continue }
            others.append((other, Int(status.st_mtim.tv_sec) * 1_000_000_000 + Int(status.st_mtim.tv_nsec)))
        }
        for old in others.sorted(by: { $0.modified > $1.modified }).dropFirst(max(0, Self.indexesKept - kept.count)) {
            unlink(old.path)
        }
        return true
    }
}
