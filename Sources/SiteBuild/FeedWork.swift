import Logging
import ShopCore

/// The feeds and sitemaps of a build, rendered off the page workers: each kind on a task of its own.
struct FeedWork: Sendable {
    enum Kind: Hashable, Sendable { case sitemap, atom, merchant, search }

    let products: [Product]
    let config: SiteConfig
    let urls: SiteURLs
    let prices: PriceFormatter
    let day: BuildDay
    let indexable: [String]
    let sitemapLimit: Int
    let precompress: Bool
    let imageURLs: [String: String]
    let writer: OutputTree.Writer
    /// Cores the Merchant Center feed's items are made on (`--jobs`).
    let workers: Int
    /// The old feed and its .gz, moved aside in the spare: deleted by the feed's task, off the
    /// page workers' way.
    let discard: [String]
    let pieces: Pieces
    let logger: Logger

    /// What the feeds that list every product need to take the unchanged products' pieces from
    /// the live site's copies (FeedFragments) and to record theirs for the next build.
    struct Pieces: Sendable {
        /// Each product's digest, in catalog order.
        let keys: [String]
        /// Where the feeds' indexes are kept.
        let folder: String
        let publishPath: String
        /// Output path -> digest: the live site's manifest, and this build's plan.
        let live: [String: String]
        let planned: [String: String]

        func reusable(_ feedPath: String, frame: String, inMemory: Bool, gzip: Bool = false) -> FeedFragments? {
            FeedFragments.load(folder: folder, feedPath: feedPath, publishPath: publishPath, liveDigest: live[feedPath], frame: frame,
                               inMemory: inMemory, gzip: gzip)
        }

        func save(_ recorder: FragmentRecorder, feedPath: String, frame: String, size: Int, identity: String) -> Bool {
            guard let digest = planned[feedPath] else { return false }
            return recorder.save(folder: folder, feedPath: feedPath, publishPath: publishPath, digest: digest, frame: frame, size: size,
                                 identity: identity, keep: live[feedPath])
        }
    }

    /// A feed in memory (to be written), or one its task wrote into the tree already.
    enum Output: Sendable {
        case rendered(RenderedPage)
        case written(WrittenFile)
    }

    /// With the feed's time on its thread: the feeds are a rebuild's longest path.
    private func logPieces(_ path: String, reused: Int, saved: Bool, since start: ContinuousClock.Instant) {
        logger.debug("feed written", metadata: [
            "feed": "\(path)", "products": "\(products.count)", "pieces available": "\(reused)", "index saved": "\(saved)",
            "ms": "\(Int((ContinuousClock.now - start).milliseconds.rounded()))",
        ])
    }

    /// Output path -> the file (and its .gz, made on the same task), for the kinds asked for.
    func render(_ kinds: Set<Kind>) async throws -> [String: Output] {
        try await withThrowingTaskGroup(of: [String: Output].self) { group in
            for kind in kinds {
                group.addTask { try await onThreadOfItsOwn { try render(kind) } }
            }
            var texts: [String: Output] = [:]
            for try await part in group { texts.merge(part) { first, _ in first } }
            return texts
        }
    }

    func render(_ kind: Kind) throws -> [String: Output] {
        let start = ContinuousClock.now
        func inMemory(_ path: String, _ text: String) -> [String: Output] {
            [path: .rendered(RenderedPage(path: path, html: text, precompress: precompress))]
        }
        switch kind {
        case .sitemap:
            var pages: [String: Output] = [:]
            for file in Sitemap.files(pagePaths: indexable, lastModified: day.date, urls: urls, limit: sitemapLimit) {
                pages.merge(inMemory(file.path, file.xml)) { first, _ in first }
            }
            return pages
        case .atom:
            return inMemory(AtomFeed.path, AtomFeed.xml(products: products, config: config, urls: urls, updated: day.timestamp))
        case .merchant:
            // The old feed (the spare's, moved aside) is deleted here, off the page workers' way.
            // Never written into: a download of it from when it was live may still be reading it.
            OutputTree.discard(discard)
            // 3 KB per product: streamed to its file, never held whole.
            let frame = MerchantFeed.frame(config: config, urls: urls)
            // 30 MB for 10,000 products: copied by range, never read into memory.
            let reuse = pieces.reusable(MerchantFeed.path, frame: frame, inMemory: false, gzip: precompress)
            let file = try StreamingFile(path: "\(writer.stagingPath)/\(MerchantFeed.path)", compress: precompress,
                                         startWriteback: writer.startWriteback)
            var recorder = try MerchantFeed.write(products: products, config: config, urls: urls, imageURLs: imageURLs, to: file,
                                                  workers: workers, keys: pieces.keys, reuse: reuse)
            // Its .gz in segments, the unchanged ones taken from the live .gz (SegmentedGzip).
            let written = try file.finish(pieces: recorder.recorded, live: reuse?.gzip)
            if written.compressed {
                recorder.gzip = (file.gzipIdentity, file.compressedBytes, file.gzipSegments)
                logger.debug("feed compressed", metadata: [
                    "feed": "\(MerchantFeed.path).gz", "segments": "\(file.gzipSegments.count)", "segments reused": "\(written.segmentsReused)",
                ])
            }
            logPieces(MerchantFeed.path, reused: reuse?.count ?? 0, saved: pieces.save(recorder, feedPath: MerchantFeed.path, frame: frame, size: file.bytes,
                                                               identity: file.identity), since: start)
            return [MerchantFeed.path: .written(written)]
        case .search:
            let frame = SearchIndex.frame(currency: config.currency.code, locale: config.locale)
            let reuse = pieces.reusable(SearchIndex.path, frame: frame, inMemory: true)
            let index = SearchIndex.bytes(products: products, prices: prices, keys: pieces.keys, reuse: reuse)
            logPieces(SearchIndex.path, reused: reuse?.count ?? 0,
                      saved: pieces.save(index.pieces, feedPath: SearchIndex.path, frame: frame, size: index.bytes.count,
                                         identity: FeedFragments.contentIdentity(index.bytes)), since: start)
            return [SearchIndex.path: .rendered(RenderedPage(path: SearchIndex.path, html: index.bytes, precompress: precompress))]
        }
    }
}
