import Foundation
import ShopCore
import ShopTestSupport
import Testing
@testable import SiteBuild

/// The Merchant Center feed's .gz in segments (SegmentedGzip): always exactly the feed compressed,
/// as a build from scratch makes it, with the live .gz's unchanged segments taken back.
@Suite("Segmented gzip")
struct SegmentedGzipTests {
    /// A feed of `count` pieces: a header, one piece per product (repetitive text, as items are),
    /// a footer. `changed`: products whose piece differs (another key and other bytes).
    struct Feed {
        var bytes: [UInt8] = []
        var pieces: [FeedFragments.Entry] = []

        init(count: Int, first: Int = 0, changed: Set<Int> = []) {
            bytes.append(contentsOf: "<?xml version=\"1.0\"?>\n<rss><channel>\n".utf8)
            for product in first..<count {
                let version = changed.contains(product) ? "b" : "a"
                var digest = InputDigest("test-product")
                digest.add("product-\(product)-\(version)")
                let key = digest.finish()
                var item = "<item><g:id>SKU-\(product)</g:id><title>Print number \(product)</title>"
                item += "<description>" + String(repeating: "A quiet print of \(product % 7) hills. ", count: 1 + product % 5) + "</description>"
                item += "<g:price>\(10 + product % 13).\(version == "a" ? "00" : "50") EUR</g:price></item>\n"
                pieces.append(FeedFragments.Entry(key: key, range: bytes.count..<(bytes.count + item.utf8.count)))
                bytes.append(contentsOf: item.utf8)
            }
            bytes.append(contentsOf: "</channel></rss>\n".utf8)
        }
    }

    /// Writes `feed` and its .gz (segments of about `mask + 1` pieces) into `folder` as `name`;
    /// returns what SegmentedGzip.write said.
    func compress(
        _ feed: Feed, name: String, in folder: TemporaryFolder, mask: UInt64 = 3, live: SegmentedGzip.Live? = nil
    ) throws -> SegmentedGzip.Written {
        let path = folder.file(name)
        try Data(feed.bytes).write(to: URL(fileURLWithPath: path))
        let source = open(path, O_RDONLY)
        let destination = open(path + ".gz", O_WRONLY | O_CREAT | O_TRUNC, 0o644)
        defer {
            close(source)
            close(destination)
        }
        let segments = SegmentedGzip.segments(of: feed.pieces, size: feed.bytes.count, boundaryMask: mask)
        return try SegmentedGzip.write(from: source, size: feed.bytes.count, segments: segments, to: destination, path: path + ".gz", live: live)
    }

    /// What the system's gzip makes of `path` (OutputSupport's `gunzipped`), as bytes.
    func gunzip(_ path: String) -> [UInt8]? { gunzipped(path).map(Array.init) }

    /// The .gz `folder` holds as live.xml.gz, open, with `records` as its index says.
    func openLive(in folder: TemporaryFolder, _ records: [SegmentedGzip.Record]) -> SegmentedGzip.Live {
        SegmentedGzip.Live(descriptor: open(folder.file("live.xml.gz"), O_RDONLY), records: records)
    }

    func bytes(_ path: String) -> [UInt8] { Array(FileManager.default.contents(atPath: path) ?? Data()) }

    @Test("Segments: the header and footer on their own, pieces grouped by their digests, a gap or disorder never keyed")
    func segmentsFollowPieces() throws {
        let feed = Feed(count: 200)
        let segments = SegmentedGzip.segments(of: feed.pieces, size: feed.bytes.count, boundaryMask: 3)
        let header = try #require(segments.first)
        let footer = try #require(segments.last)
        #expect(header.key == nil && header.raw == 0..<feed.pieces[0].range.lowerBound, "the header")
        #expect(footer.key == nil && footer.raw.upperBound == feed.bytes.count, "the footer")
        #expect(segments.count > 20, "about one segment per four pieces")
        // They cover the file, in order, with no gap.
        #expect(zip(segments, segments.dropFirst()).allSatisfy { $0.raw.upperBound == $1.raw.lowerBound })
        // Every keyed segment but the first begins with a piece whose digest has the mask's bits clear.
        let starts = Dictionary(uniqueKeysWithValues: feed.pieces.map { ($0.range.lowerBound, $0.key) })
        for segment in segments.dropFirst(2).dropLast() {
            let key = try #require(starts[segment.raw.lowerBound])
            #expect(FeedFragments.hexPrefix(key).map { $0 & 3 == 0 } == true)
        }
        // Chosen by content: without the first product, every segment after the one that held it is the same.
        let shorter = Feed(count: 200, first: 1)
        let shifted = SegmentedGzip.segments(of: shorter.pieces, size: shorter.bytes.count, boundaryMask: 3)
        #expect(Set(segments.dropFirst(2).compactMap(\.key)).isSubset(of: Set(shifted.compactMap(\.key))))

        // A limit on the length splits a run without a boundary.
        let limited = SegmentedGzip.segments(of: feed.pieces, size: feed.bytes.count, boundaryMask: .max, limit: 1000)
        #expect(limited.count > 10 && limited.allSatisfy { $0.raw.count < 1000 + 400 })
        // Bytes between two pieces are a segment without a key; pieces out of order key nothing.
        var gap = feed.pieces
        let missing = gap.remove(at: 50)
        let withGap = SegmentedGzip.segments(of: gap, size: feed.bytes.count, boundaryMask: 3)
        #expect(withGap.contains { $0.key == nil && $0.raw == missing.range })
        let disorder = SegmentedGzip.segments(of: feed.pieces.reversed(), size: feed.bytes.count, boundaryMask: 3)
        #expect(disorder == [SegmentedGzip.Segment(key: nil, raw: 0..<feed.bytes.count)])
        #expect(SegmentedGzip.segments(of: [], size: 0).isEmpty)
    }

    @Test("The .gz holds exactly the file, and is as small as one stream's within a few percent")
    func roundTrip() throws {
        let folder = try TemporaryFolder("gzip")
        defer { folder.remove() }
        let feed = Feed(count: 3000)
        let written = try compress(feed, name: "feed.xml", in: folder, mask: 63)
        #expect(gunzip(folder.file("feed.xml.gz")) == feed.bytes)
        #expect(written.bytes == bytes(folder.file("feed.xml.gz")).count)
        #expect(written.reused == 0)
        #expect(written.records.count > 10)
        let oneStream = try #require(feed.bytes.withUnsafeBytes { Gzip.compress($0) })
        #expect(Double(written.bytes) < Double(oneStream.count) * 1.03, "\(written.bytes) against \(oneStream.count)")
        // An empty file and a file without pieces still make a valid .gz.
        var nothing = Feed(count: 0)
        nothing.bytes = []
        for empty in [nothing, Feed(count: 0)] {
            _ = try compress(empty, name: "empty.xml", in: folder)
            #expect(gunzip(folder.file("empty.xml.gz")) == empty.bytes)
        }
    }

    @Test("A change takes the unchanged segments from the live .gz and makes the same bytes as from scratch")
    func unchangedSegmentsReused() throws {
        let folder = try TemporaryFolder("gzip")
        defer { folder.remove() }
        // Segments of about 256 pieces (some 40 KB), longer than the 32 KiB that prime the next,
        // as the feed's are (about 200 KB).
        let before = Feed(count: 5000)
        let live = try compress(before, name: "live.xml", in: folder, mask: 255)
        let after = Feed(count: 5000, changed: [2500])
        let fresh = try compress(after, name: "fresh.xml", in: folder, mask: 255)
        let reused = try compress(after, name: "new.xml", in: folder, mask: 255, live: openLive(in: folder, live.records))
        #expect(gunzip(folder.file("new.xml.gz")) == after.bytes)
        #expect(bytes(folder.file("new.xml.gz")) == bytes(folder.file("fresh.xml.gz")), "as a build from scratch makes it")
        #expect(reused.records == fresh.records)
        // The changed segment is made again; so is the next one when the change lies in the bytes
        // that prime it, and one more when the product's new digest adds or removes a boundary.
        #expect(live.records.count > 10)
        #expect(reused.reused >= live.records.count - 3 && reused.reused < live.records.count, "\(reused.reused) of \(live.records.count)")
    }

    @Test("A live segment whose bytes are not this file's is not taken, whatever its key says")
    func mismatchedSegmentsNotTaken() throws {
        let folder = try TemporaryFolder("gzip")
        defer { folder.remove() }
        let feed = Feed(count: 400)
        let live = try compress(feed, name: "live.xml", in: folder, mask: 15)
        // The same keys over other bytes (a live file changed behind the index's back): the
        // CRC-32 of what this build wrote differs, so every keyed segment is made again.
        var other = feed
        other.bytes = other.bytes.map { $0 == UInt8(ascii: "q") ? UInt8(ascii: "Q") : $0 }
        let written = try compress(other, name: "new.xml", in: folder, mask: 15, live: openLive(in: folder, live.records))
        #expect(written.reused == 0)
        #expect(gunzip(folder.file("new.xml.gz")) == other.bytes)
        // A record whose compressed range is not that segment's: its CRC-32 does not match the
        // bytes either, so nothing is copied from the wrong place.
        let shuffled = zip(live.records, live.records.reversed()).map { mine, theirs in
            SegmentedGzip.Record(key: mine.key, crc: theirs.crc, primeLength: mine.primeLength, primeCheck: mine.primeCheck,
                                 rawLength: mine.rawLength, compressed: theirs.compressed)
        }
        let third = try compress(feed, name: "third.xml", in: folder, mask: 15, live: openLive(in: folder, shuffled))
        #expect(gunzip(folder.file("third.xml.gz")) == feed.bytes)
        // Only a record that is its own mirror (the middle one of an odd count) is still right.
        #expect(third.reused == zip(live.records, live.records.reversed()).filter { $0 == $1 }.count)
        // Nor is a segment whose prime (the bytes before it) changed, though its own bytes did not.
        var primedOtherwise = live.records
        primedOtherwise[3] = SegmentedGzip.Record(
            key: live.records[3].key, crc: live.records[3].crc, primeLength: live.records[3].primeLength,
            primeCheck: live.records[3].primeCheck ^ 1, rawLength: live.records[3].rawLength, compressed: live.records[3].compressed)
        let fourth = try compress(feed, name: "fourth.xml", in: folder, mask: 15, live: openLive(in: folder, primedOtherwise))
        #expect(fourth.reused == live.records.count - 1)
        #expect(gunzip(folder.file("fourth.xml.gz")) == feed.bytes)
    }

    @Test("The feed's index keeps the .gz's segments; a damaged segment line loses the segments, a damaged piece line the index")
    func indexKeepsSegments() throws {
        let folder = try TemporaryFolder("gzip")
        defer { folder.remove() }
        let feed = Feed(count: 300)
        let written = try compress(feed, name: "feed.xml", in: folder, mask: 15)
        var recorder = FragmentRecorder(expected: feed.pieces.count)
        for piece in feed.pieces { recorder.record(key: piece.key, offset: piece.range.lowerBound, length: piece.range.count) }
        #expect(recorder.recorded.map(\.range) == feed.pieces.map(\.range))
        recorder.gzip = ("1:2", written.bytes, written.records)
        let indexes = folder.file("indexes")
        #expect(recorder.save(folder: indexes, feedPath: "feed.xml", publishPath: folder.path, digest: "d1", frame: "f", size: feed.bytes.count,
                              identity: "3:4", keep: nil))
        let path = FeedFragments.indexPath(folder: indexes, feedPath: "feed.xml", digest: "d1", publishPath: folder.path)
        let index = bytes(path)
        let parsed = try #require(FeedFragments.parse(index: index, size: feed.bytes.count, digest: "d1", frame: "f", identity: "3:4"))
        #expect(parsed.entries.count == feed.pieces.count)
        #expect(parsed.gzip?.identity == "1:2" && parsed.gzip?.size == written.bytes)
        #expect(parsed.gzip?.segments == written.records)

        let text = String(decoding: index, as: UTF8.self)
        let lines = text.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        let segmentLine = try #require(lines.firstIndex { $0.hasPrefix(written.records[3].key + " ") })
        func replacing(field: Int, with value: String) -> String {
            var fields = lines[segmentLine].split(separator: " ").map(String.init)
            fields[field] = value
            var changed = lines
            changed[segmentLine] = fields.joined(separator: " ")
            return changed.joined(separator: "\n")
        }
        // A damaged .gz section loses the .gz's segments only: the pieces still stand.
        for damage in [
            replacing(field: 1, with: "x"),
            replacing(field: 6, with: "\(written.bytes * 2)"),
            replacing(field: 1, with: "\(UInt64(UInt32.max) + 1)"),
            replacing(field: 3, with: "-1"),
            text.replacingOccurrences(of: "gzip 1:2 \(written.bytes)\n", with: "gzip 1:2\n"),
        ] {
            #expect(damage != text)
            let damaged = FeedFragments.parse(index: Array(damage.utf8), size: feed.bytes.count, digest: "d1", frame: "f", identity: "3:4")
            #expect(damaged?.entries.count == feed.pieces.count)
            #expect(damaged?.gzip == nil)
        }
        // A damaged piece line still makes the whole index unusable.
        let badPiece = text.replacingOccurrences(of: "\(feed.pieces[5].key) \(feed.pieces[5].range.lowerBound) ", with: "\(feed.pieces[5].key) x ")
        #expect(badPiece != text)
        #expect(FeedFragments.parse(index: Array(badPiece.utf8), size: feed.bytes.count, digest: "d1", frame: "f", identity: "3:4") == nil)
    }

    @Test("A one-product rebuild takes the other segments of merchant-feed.xml.gz from the live one, and it still holds exactly the feed")
    func rebuildTakesSegments() async throws {
        let shop = try await ExampleShop.make(importCatalog: false)
        defer { shop.remove() }
        // Enough products for several segments (about 64 products each).
        let description = String(repeating: "A print of quiet hills, framed in oak. ", count: 40)
        var products = (0..<600).map { number in
            Product(handle: "print-\(number)", title: "Print \(number)", bodyHTML: "<p>\(description)\(number)</p>", productType: "Print",
                    variants: [Variant(sku: "P-\(number)", options: [], priceCents: 1000 + number, stock: 3)])
        }
        _ = try await shop.store.upsert(products)
        let first = try await shop.buildOnFixedDate(precompress: true)
        #expect(first.compressedSegmentsReused == 0)
        products[300].variants[0].priceCents = 99
        _ = try await shop.store.upsert([products[300]])
        let report = try await shop.buildOnFixedDate(precompress: true)
        #expect(report.rendered.contains("merchant-feed.xml"))
        let feed = try #require(FileManager.default.contents(atPath: "\(shop.output)/merchant-feed.xml"))
        #expect(feed.count > 1_000_000)
        #expect(gunzipped("\(shop.output)/merchant-feed.xml.gz") == feed)
        // About 10 segments: all but the changed product's (and at most two beside it) are taken.
        #expect(report.compressedSegmentsReused >= 5, "\(report.compressedSegmentsReused) segments taken")
        let fresh = "\(shop.site)/fresh"
        _ = try await shop.buildOnFixedDate(into: fresh, precompress: true)
        #expect(FileManager.default.contents(atPath: "\(shop.output)/merchant-feed.xml.gz")
            == FileManager.default.contents(atPath: "\(fresh)/merchant-feed.xml.gz"), "as a build from scratch makes it")

        // A live .gz written into in place is not the file its index names: nothing is taken from it.
        let path = "\(shop.output)/merchant-feed.xml.gz"
        let handle = try #require(FileHandle(forWritingAtPath: path))
        try handle.seek(toOffset: 100)
        try handle.write(contentsOf: Data([0x55]))
        try handle.close()
        products[301].variants[0].priceCents = 98
        _ = try await shop.store.upsert([products[301]])
        let afterTamper = try await shop.buildOnFixedDate(precompress: true)
        #expect(afterTamper.compressedSegmentsReused == 0)
        #expect(gunzipped("\(shop.output)/merchant-feed.xml.gz") == FileManager.default.contents(atPath: "\(shop.output)/merchant-feed.xml"))
    }
}
