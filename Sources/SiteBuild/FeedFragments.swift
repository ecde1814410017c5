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
/// build would make. An index is trusted only for the live file it names (same digest in the live
/// manifest, same size on disk) and the same frame (settings the pieces depend on, the ishop
/// format); otherwise every piece is made again, which is only slower.
struct FeedFragments: Sendable {
    /// The live feed's bytes, read once.
    private let bytes: [UInt8]
    /// Product digest -> where its piece lies in `bytes`.
    private let ranges: [String: Range<Int>]

    var count: Int { ranges.count }

    static let header = "ishop-feed-fragments 1"

    /// The index file of the feed `feedPath` ("merchant-feed.xml") whose digest is `digest`.
    static func indexPath(folder: String, feedPath: String, digest: String) -> String {
        "\(folder)/\(feedPath).\(digest).index"
    }

    /// The pieces of the live copy of `feedPath` under `publishPath`, whose digest the live
    /// manifest gives as `liveDigest`; nil when there is no index that can be trusted for it.
    static func load(folder: String, feedPath: String, publishPath: String, liveDigest: String?, frame: String) -> FeedFragments? {
        guard let liveDigest, let index = readAll(indexPath(folder: folder, feedPath: feedPath, digest: liveDigest)),
              let feed = readAll("\(publishPath)/\(feedPath)")
        else { return nil }
        return FeedFragments(index: index, feed: feed, digest: liveDigest, frame: frame)
    }

    /// Parses an index written by `FragmentRecorder.save`; nil when it is not one, or not for this
    /// feed, frame and size.
    init?(index: [UInt8], feed: [UInt8], digest: String, frame: String) {
        var lines = index.split(separator: 0x0A, omittingEmptySubsequences: false)[...]
        guard let first = lines.popFirst(), String(decoding: first, as: UTF8.self) == Self.header,
              let second = lines.popFirst(),
              String(decoding: second, as: UTF8.self) == "\(digest) \(frame) \(feed.count)"
        else { return nil }
        var ranges: [String: Range<Int>] = [:]
        ranges.reserveCapacity(lines.count)
        for line in lines where !line.isEmpty {
            let fields = line.split(separator: 0x20)
            guard fields.count == 3, let offset = Self.number(fields[1]), let length = Self.number(fields[2]),
                  length > 0, offset <= feed.count - length
            else { return nil }
            ranges[String(decoding: fields[0], as: UTF8.self)] = offset..<(offset + length)
        }
        bytes = feed
        self.ranges = ranges
    }

    /// Appends the piece of the product whose digest is `key` to `out`; false when there is none.
    func append(_ key: String, to out: inout [UInt8]) -> Bool {
        guard let range = ranges[key] else { return false }
        out.append(contentsOf: bytes[range])
        return true
    }

    private static func number(_ digits: ArraySlice<UInt8>) -> Int? {
        guard !digits.isEmpty, digits.count <= 15 else { return nil }
        var value = 0
        for digit in digits {
            guard (0x30...0x39).contains(digit) else { return nil }
            value = value * 10 + Int(digit - 0x30)
        }
        return value
    }

    /// A whole file with plain system calls; nil when it cannot be read.
    static func readAll(_ path: String) -> [UInt8]? {
        let descriptor = open(path, O_RDONLY | O_CLOEXEC)
        guard descriptor >= 0 else { return nil }
        defer { close(descriptor) }
        var status = stat()
        guard fstat(descriptor, &status) == 0, (status.st_mode & S_IFMT) == S_IFREG else { return nil }
        let size = Int(status.st_size)
        var bytes = [UInt8](repeating: 0, count: size)
        var offset = 0
        let complete = bytes.withUnsafeMutableBytes { buffer -> Bool in
            while offset < size {
                let got = read(descriptor, buffer.baseAddress! + offset, size - offset)
                if got < 0 && errno == EINTR { continue }
                guard got > 0 else { return false }
                offset += got
            }
            return true
        }
        return complete ? bytes : nil
    }
}

/// Notes where each product's piece lands in a feed as it is written, and saves that as the index
/// the next build reads (FeedFragments).
struct FragmentRecorder {
    private var lines: [UInt8] = []
    private(set) var pieces = 0

    init(expected: Int) {
        lines.reserveCapacity(expected * 90)
    }

    mutating func record(key: String, offset: Int, length: Int) {
        guard length > 0 else { return }
        lines.append(contentsOf: "\(key) \(offset) \(length)\n".utf8)
        pieces += 1
    }

    /// Indexes kept per feed: this build's and the live site's, and as many again for a second
    /// output folder of the same site (`ishop build --out`), which would otherwise remove these.
    static let indexesKept = 4

    /// Writes the index of the feed `feedPath` with digest `digest` (written, `size` bytes) into
    /// `folder`, and removes the oldest indexes of other versions of it, never `keep` (the live
    /// one, which stays live if this build fails). Failing to save costs the next build time,
    /// never correctness: it is not an error.
    func save(folder: String, feedPath: String, digest: String, frame: String, size: Int, keep: String?) -> Bool {
        guard (try? OutputTree.makeDirectories(folder)) != nil else { return false }
        let path = FeedFragments.indexPath(folder: folder, feedPath: feedPath, digest: digest)
        var text = Array("\(FeedFragments.header)\n\(digest) \(frame) \(size)\n".utf8)
        text.append(contentsOf: lines)
        guard (try? text.withUnsafeBytes({ try OutputTree.writeFile(at: path + ".new", bytes: $0) })) != nil,
              rename(path + ".new", path) == 0
        else {
            unlink(path + ".new")
            return false
        }
        let kept = Set([path] + (keep.map { [FeedFragments.indexPath(folder: folder, feedPath: feedPath, digest: $0)] } ?? []))
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
