import Foundation
import Logging
import ShopCore
import ShopImages
import ShopStore
import Synchronization

/// `ishop build`: catalog + content + theme -> a complete static site in the publish folder.
///
/// The stages, in order, each a function named for it and each naming itself in its errors
/// (BuildError.Stage):
/// 1. `loadInputs` (BuildInputs.swift): the catalog in one read transaction, content/, the theme.
/// 2. `planSite` (PlannedSite.swift): collections, the models templates see, the image sets
///    (`prepareImages`), and the plan: every output with the digest of its inputs.
/// 3. `keepWhatIsCurrent`: outputs whose digests the spare or the live site has are kept.
/// 4. `renderProductPages`, `renderListings`, `renderTheRest` (RenderStages.swift), with the
///    feeds on tasks of their own (`startFeeds`, FeedWork.swift), into the spare (OutputTree).
/// 5. publish: the spare and the live site swap in one atomic step.
/// Nothing reaches the published folder unless every stage succeeded.
///
/// Outputs: the home page, one page per product, the collections (one per product type and tag,
/// paged) and their index, content pages, 404.html; for machines sitemap.xml, robots.txt, the
/// Atom feed of new products, the Merchant Center feed and the search index; the static files.
public struct SiteBuilder {
    public struct Report: Sendable, Equatable {
        public var products = 0
        public var contentPages = 0
        /// Distinct product types and tags, merged where their slugs meet.
        public var collections = 0
        /// HTML pages in the site: home, products, collection pages, the collections index, content pages, 404.
        public var pagesWritten = 0
        /// Pages whose inputs did not change since they were last rendered: kept, not rendered.
        public var pagesReused = 0
        /// sitemap.xml (and its parts), robots.txt, feed.xml, merchant-feed.xml, search-index.json.
        public var feedsWritten = 0
        /// Feeds whose inputs did not change.
        public var feedsReused = 0
        public var staticFiles = 0
        /// `.gz` files written beside text outputs in this build.
        public var compressedFiles = 0
        /// Segments of the Merchant Center feed's .gz taken from the live .gz, not compressed again.
        public var compressedSegmentsReused = 0
        /// Outputs of the previous site that this one no longer has (an unpublished product's page).
        public var outputsRemoved = 0
        /// Files of responsive image sets under img/ (the image stage: docs/images.md).
        public var imageFiles = 0
        /// Image sources made in this build, taken from the image cache, or turned into a placeholder.
        public var imagesProcessed = 0
        public var imagesCached = 0
        public var imagesFailed = 0
        /// Source bytes minus the largest WebP of each set: what shoppers no longer download.
        public var imageBytesSaved = 0
        /// The image sources that could not be had, grouped by host and reason; their pages show placeholders.
        public var imageWarnings: [ImageWarningGroup] = []
        /// Outputs rendered (or copied) in this build, relative paths in the order written.
        public var rendered: [String] = []
        /// Bytes written by this build (kept outputs are not written again).
        public var bytesWritten = 0
        public var output = ""
    }

    /// A step of progress for the terminal: what is being done, how far along.
    public struct Progress: Sendable {
        public var stage: BuildError.Stage
        public var done: Int
        public var total: Int
    }

    /// Where the indexes of the feeds' per-product pieces are kept (FeedFragments), in the site folder.
    public static let feedIndexFolder = ".ishop/feeds"

    /// The sitemap protocol's limit of URLs per file.
    public static let sitemapURLLimit = 50_000

    public let config: SiteConfig
    public let store: any Store
    public var logger: Logger
    /// URLs per sitemap file; past it the sitemap is split and sitemap.xml becomes their index.
    public var sitemapLimit = SiteBuilder.sitemapURLLimit
    /// The day written into sitemaps and feeds; nil means today (UTC).
    public var buildDate: Date?
    /// Pages rendered at once (`ishop build --jobs`); the number of cores by default.
    public var jobs = ProcessInfo.processInfo.activeProcessorCount
    /// False (`--no-images`): pages use the catalog's image sources as they are, nothing is fetched.
    public var processImages = true
    /// `--offline` (remote images from the cache only) and `--strict` (a missing image fails the build).
    public var imageOptions = ImagePipeline.Options()
    /// True: the new site is written to disk (syncfs) before it replaces the old one, so a power
    /// cut can never leave Nginx serving half-written files. `ishop build --no-sync` turns it off
    /// for throwaway output (previews, benchmarks of rendering alone).
    public var syncBeforePublish = true
    /// Called as image sources are done (done, total), from the image workers.
    public var imageProgress: (@Sendable (Int, Int) -> Void)?
    /// True for `ishop build`, whose process ends right after: the catalog, the plan and the
    /// output tree are left for the process's exit to reclaim, rather than freed string by string
    /// (50-90 ms of a 0.4 s rebuild of 10,000 products). Off for anything that builds repeatedly.
    public var leavesMemoryToExit = false

    public init(config: SiteConfig, store: any Store, logger: Logger = Logger(label: "ishop.build")) {
        self.config = config
        self.store = store
        self.logger = logger
    }

    /// The build in its stages (Hugo's way): each is a function of its own below or in the file
    /// named after it, and each names itself in the errors it throws (`inStage`).
    public func build(outputDirectory: String, progress: @escaping (Progress) -> Void = { _ in }) async throws -> Report {
        let output = URL(fileURLWithPath: outputDirectory).standardizedFileURL.path
        try checkOutputIsSafe(output)
        var clock = StageClock(logger: logger)
        let inputs = try await loadInputs(output: output, clock: &clock)
        let site = try await planSite(inputs, output: output, clock: &clock)
        let live = site.live
        if live.manifest?.outputs == site.plan.digests {
            return try finishUnchanged(site, inputs, output: output)
        }

        let tree = try await inStage(.write) {
            try OutputTree(publishPath: output, precompress: config.precompress, live: live.manifest, liveIdentity: live.identity,
                           syncBeforePublish: syncBeforePublish)
        }
        // The feeds' task, which writes into the spare: stopped and waited for before a failed
        // build leaves (or it would go on writing files the spare's manifest does not list).
        var feedTask: Task<[String: FeedWork.Output], any Error>?
        // The manifest to publish, made from the plan on a thread of its own while the build goes
        // on (it was a third of publishing a one-product change); publish checks it still fits.
        let manifestDigests = site.plan.digests
        let manifestOrder = site.plan.outputs.map(\.path)
        let manifest = Task { try await onThreadOfItsOwn { BuildManifest.Encoded(outputs: manifestDigests, order: manifestOrder) } }
        do {
            let toRender = try await inStage(.write) { try keepWhatIsCurrent(site.plan, in: tree) }
            clock.lap("keep")
            let ledger = RenderLedger(tree: tree, total: toRender.count, progress: progress)
            tree.expectWrites(toRender.count)
            let feeds = try await startFeeds(toRender, site, inputs, tree: tree, output: output)
            feedTask = feeds
            try await inStage(.render) { try await renderProductPages(toRender, site, inputs, tree: tree, ledger: ledger) }
            clock.lap("product pages")
            let cards = try await inStage(.render) { try await renderListings(toRender, site, inputs, tree: tree, ledger: ledger) }
            clock.lap("collection pages")
            try await inStage(.render) {
                try await renderTheRest(toRender, site, inputs, cards: cards, feeds: feeds, tree: tree, ledger: ledger)
            }
            clock.lap("feeds and files")
            let encoded = try? await manifest.value
            try await inStage(.publish) { try tree.publish(encoded: encoded) }
            clock.lap("publish")
            var report = site.plan.report(output: output, rendered: ledger.rendered, tree: tree, images: site.images.report)
            report.compressedSegmentsReused = ledger.segmentsReused
            if leavesMemoryToExit { LeftForExit.keep(inputs.products, site.collections, site.plan, live.manifest as Any, tree, ledger.rendered) }
            logger.info("build published", metadata: [
                "rendered": "\(ledger.rendered.count)", "kept": "\(tree.filesKept)", "removed": "\(tree.filesRemoved)",
                "bytes": "\(report.bytesWritten)",
            ])
            return report
        } catch {
            if let feedTask {
                feedTask.cancel()
                _ = try? await feedTask.value
            }
            tree.abandon()
            throw error
        }
    }

    /// Every output has the digest the live site records for it: there is nothing to write, but
    /// a `--no-sync` build before may have left the live site off disk.
    private func finishUnchanged(_ site: PlannedSite, _ inputs: BuildInputs, output: String) throws -> Report {
        logger.info("build found nothing changed", metadata: ["outputs": "\(site.plan.outputs.count)"])
        if syncBeforePublish { try OutputTree.syncIfUnsynced(publishPath: output) }
        if leavesMemoryToExit { LeftForExit.keep(inputs.products, site.collections, site.plan, site.live.manifest as Any) }
        return site.plan.report(output: output, rendered: [], tree: nil, images: site.images.report)
    }

    /// The outputs the spare holds already, or the live site has as they must be, are kept; the
    /// rest are to be rendered, in plan order.
    private func keepWhatIsCurrent(_ plan: SitePlan, in tree: OutputTree) throws -> [PlannedOutput] {
        tree.expectOutputs(plan.outputs.count)
        var toRender: [PlannedOutput] = []
        for planned in plan.outputs where try !tree.keep(planned.path, digest: planned.digest) {
            toRender.append(planned)
        }
        return toRender
    }

    /// Runs one stage: an error that is not a BuildError already is named by `stage`; a
    /// cancellation stays one.
    func inStage<T>(_ stage: BuildError.Stage, _ body: () async throws -> T) async throws -> T {
        do {
            return try await body()
        } catch let error as BuildError {
            throw error
        } catch is CancellationError {
            throw CancellationError()
        } catch {
            throw BuildError(stage, "\(error)")
        }
    }

    /// What the image stage gives the rest of the build.
    struct PreparedImages {
        /// Catalog source -> its set.
        var sets: [String: ImageSet] = [:]
        /// Output path ("img/<hash>-640.webp") -> the file in the image cache.
        var files: [String: String] = [:]
        /// Catalog source -> what identifies its set, for the digests of pages that show it.
        var keys: [String: String] = [:]
        var report: ImageReport?
    }

    /// Every distinct product image becomes a responsive set (ShopImages), made once and then
    /// taken from the cache outside public/. A root-relative source names a file of the site's or
    /// theme's static/ folder; http(s) sources are fetched. A source that cannot be had becomes a
    /// placeholder and a warning (a failed build with --strict).
    func prepareImages(products: [Product], theme: Theme) async throws -> PreparedImages {
        var prepared = PreparedImages()
        guard processImages else { return prepared }
        var sources: [ImageSource] = []
        var referenceOf: [String: String] = [:]
        for product in products {
            for image in product.images where referenceOf[image.src] == nil {
                var reference = image.src
                if image.src.hasPrefix("/"), !image.src.hasPrefix("//"),
                   let file = theme.staticFiles[String(image.src.drop(while: { $0 == "/" }))]
                {
                    reference = file
                }
                referenceOf[image.src] = reference
                sources.append(ImageSource(reference))
            }
        }
        guard !sources.isEmpty else { return prepared }
        let folder = config.resolve(config.images.cacheDir) + "/site"
        var progress: (@Sendable (ImageProgress) -> Void)?
        if let imageProgress {
            progress = { step in imageProgress(step.done, step.total) }
        }
        let report: ImageReport
        do {
            var imageStageOptions = imageOptions
            imageStageOptions.jobs = jobs  // --jobs bounds decoding as it bounds rendering
            report = try await ImagePipeline.prepare(
                sources: sources, config: config, outputDirectory: folder, options: imageStageOptions, logger: logger,
                progress: progress)
        } catch {
            throw BuildError(.images, "\(error)")
        }
        for (src, reference) in referenceOf {
            guard let set = report.sets[reference] else { continue }
            prepared.sets[src] = set
            let files = set.webp.map(\.file) + (set.fallback.map { [$0.file] } ?? [])
            prepared.keys[src] = files.isEmpty ? "missing" : files.joined(separator: " ") + " \(set.width)x\(set.height)"
            for file in files { prepared.files[file] = "\(folder)/\(file)" }
        }
        prepared.report = report
        return prepared
    }

    /// The publish step replaces the output folder whole: never let that be the shop itself.
    func checkOutputIsSafe(_ output: String) throws {
        let site = URL(fileURLWithPath: config.siteDirectory).standardizedFileURL.path
        if output == "/" || output == site || site.hasPrefix(output + "/") {
            throw BuildError(.config, file: output, "the output folder must not be the site folder or one above it: it is replaced on every build")
        }
        for folder in [config.contentDir, config.themesDir, "layouts", "static"] {
            let protected = config.resolve(folder)
            if output == protected || output.hasPrefix(protected + "/") {
                throw BuildError(.config, file: output, "the output folder must not be inside \(folder)/")
            }
        }
    }
}
