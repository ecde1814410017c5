import Foundation
import Logging
import ShopCore
import ShopImages
import ShopStore
import Synchronization

/// `ishop build`: catalog + content + theme -> a complete static site in the publish folder.
///
/// Stages, each named in its errors: config, catalog (one read transaction), content, theme,
/// render (into a staging folder), publish (one atomic swap). Nothing reaches the published
/// folder unless every stage succeeded.
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

    public func build(outputDirectory: String, progress: (Progress) -> Void = { _ in }) async throws -> Report {
        let output = URL(fileURLWithPath: outputDirectory).standardizedFileURL.path
        try checkOutputIsSafe(output)
        var clock = StageClock(logger: logger)

        // The catalog is read (on the store's own threads) while the content and theme load here:
        // neither needs the other, and each is about a tenth of a rebuild.
        let store = self.store
        async let catalog = store.catalog(includeUnpublished: false)
        // The live site's manifest too (compared with the plan below). Read before this build
        // holds the output folder (OutputTree takes the lock), so its identity goes with it, taken
        // first: the tree reads it again if another build published meanwhile.
        async let liveSite = { (identity: BuildManifest.identity(folder: output), manifest: BuildManifest.load(folder: output)) }()
        let pages = try ContentPage.loadAll(directory: config.resolve(config.contentDir), displayRoot: config.contentDir)
            .filter { !$0.draft }
        let theme = try Theme.load(config: config)
        let assets = try FingerprintedAssets(staticFiles: theme.staticFiles)
        clock.lap("content and theme")
        let products: [Product]
        do {
            products = try await catalog
        } catch {
            throw BuildError(.catalog, "cannot read the catalog: \(error)")
        }
        // A handle becomes a folder name: one that is not a plain handle could climb out of public/.
        // By index: `first(where:)` over the products copied each one to look at its handle.
        if let bad = products.indices.first(where: { !Handle.isValid(products[$0].handle) }) {
            throw BuildError(.plan, "product handle \"\(products[bad].handle.prefix(80))\" cannot be a page address (letters, digits, - and _ only)")
        }
        clock.lap("catalog")
        let collections = ProductCollection.gather(products, tags: config.outputs.tagCollections)
        logger.info("build planned", metadata: [
            "products": "\(products.count)", "collections": "\(collections.count)", "pages": "\(pages.count)",
            "theme": "\(config.theme)", "output": "\(output)",
        ])

        let day = BuildDay(buildDate ?? Date())
        let navigation = pages.filter(\.menu).sorted { ($0.weight, $0.title) < ($1.weight, $1.title) }
        let stylesheet = assets.url(of: "css/shop.css") ?? ""
        let stockScript = assets.url(of: "js/stock.js") ?? ""
        var models = PageModels(config: config, navigation: navigation, stylesheet: stylesheet, stockScript: stockScript, year: day.year)
        models.collectionCrumbs = Dictionary(
            collections.map { ($0.slug, Crumb(title: $0.title, path: $0.path(page: 1))) }, uniquingKeysWith: { first, _ in first })
        // The shop's departments: collections of a product type. Tags are listed at /collections/.
        let departments = collections.filter(\.isProductType).map { models.collectionLink($0) }

        // Rendered once, put into every page as it is: rendering them per page was most of a build.
        let fragmentContext = models.fragmentContext(collections: departments.map { .fields($0) })
        let header = try theme.renderText(fragmentContext, template: "header")
        let footer = try theme.renderText(fragmentContext, template: "footer")
        models.fragments = ["header": .text(header), "footer": .text(footer)]
        clock.lap("collections")

        let images = try await prepareImages(products: products, theme: theme)
        models.imageSets = images.sets
        clock.lap("images")

        let plan = try SitePlan(
            products: products, collections: collections, pages: pages, theme: theme, assets: assets, models: models,
            // Every asset URL a page may name goes into the shared digest.
            fragments: [header, footer], stylesheet: stylesheet + " " + stockScript, day: day, sitemapLimit: sitemapLimit,
            hasGitKeep: access("\(output)/.gitkeep", F_OK) == 0, imageFiles: images.files, imageKeys: images.keys)
        clock.lap("plan")

        // Every output has the digest the live site records for it: there is nothing to do.
        // Read again if another build published since it was read at the start: this answer
        // takes no lock, and it must not be an older site's.
        var (liveIdentity, live) = await liveSite
        let identityNow = BuildManifest.identity(folder: output)
        if identityNow != liveIdentity {
            liveIdentity = identityNow
            live = BuildManifest.load(folder: output)
        }
        let nothingChanged = live?.outputs == plan.digests
        clock.lap("compare")
        if nothingChanged {
            logger.info("build found nothing changed", metadata: ["outputs": "\(plan.outputs.count)"])
            // Nothing to write, but a `--no-sync` build before may have left the live site off disk.
            if syncBeforePublish { try OutputTree.syncIfUnsynced(publishPath: output) }
            if leavesMemoryToExit { LeftForExit.keep(products, collections, plan, live as Any) }
            return plan.report(output: output, rendered: [], tree: nil, images: images.report)
        }

        let tree = try OutputTree(publishPath: output, precompress: config.precompress, live: live, liveIdentity: liveIdentity,
                                  syncBeforePublish: syncBeforePublish)
        // The feeds' task, which writes into the spare: stopped and waited for before a failed
        // build leaves (or it would go on writing files the spare's manifest does not list).
        var feedTask: Task<[String: FeedWork.Output], any Error>?
        // The manifest to publish, made from the plan on a thread of its own while the build goes
        // on (it was a third of publishing a one-product change); publish checks it still fits.
        let manifestDigests = plan.digests
        let manifestOrder = plan.outputs.map(\.path)
        let manifest = Task { try await onThreadOfItsOwn { BuildManifest.Encoded(outputs: manifestDigests, order: manifestOrder) } }
        do {
            // Outputs the spare holds already, or the live site has as they must be, are kept.
            tree.expectOutputs(plan.outputs.count)
            var toRender: [PlannedOutput] = []
            for planned in plan.outputs where try !tree.keep(planned.path, digest: planned.digest) {
                toRender.append(planned)
            }
            clock.lap("keep")
            let total = toRender.count
            tree.expectWrites(total)
            var done = 0
            func step(_ count: Int = 1) {
                let before = done
                done += count
                if done / 200 != before / 200 || done == total { progress(Progress(stage: .render, done: done, total: total)) }
            }
            var rendered: [String] = []
            rendered.reserveCapacity(total)
            var segmentsReused = 0
            func write(_ planned: PlannedOutput, _ html: [UInt8]) throws {
                try html.withUnsafeBytes { try tree.write(planned.path, digest: planned.digest, bytes: $0) }
                rendered.append(planned.path)
                step()
            }
            func write(_ planned: PlannedOutput, _ text: String) throws {
                try tree.write(planned.path, digest: planned.digest, text)
                rendered.append(planned.path)
                step()
            }
            func recordWritten(_ planned: PlannedOutput, _ file: WrittenFile) {
                tree.recordWritten(planned.path, digest: planned.digest, bytes: file.bytes, compressed: file.compressed)
                rendered.append(planned.path)
                step()
            }

            // The feeds are large (the Merchant Center feed of 10,000 products is 30 MB) and need
            // nothing but the catalog: they render beside the pages, each on its own task, and
            // are written when the pages are done.
            // The Merchant Center feed is written by its task straight into the tree, as it is made;
            // that task deletes the old one too.
            for planned in toRender where planned.path == MerchantFeed.path {
                try tree.prepareMovingAside(planned.path, digest: planned.digest)
            }
            let feedWork = FeedWork(products: products, config: config, urls: models.urls, prices: models.prices, day: day,
                                    indexable: plan.indexable, sitemapLimit: sitemapLimit, precompress: config.precompress,
                                    imageURLs: images.sets.compactMapValues { set in set.fallback.map { models.urls.page("/" + $0.file) } },
                                    writer: tree.writer, workers: max(1, jobs), discard: tree.filesMovedAside,
                                    pieces: FeedWork.Pieces(keys: plan.productDigests, folder: config.resolve(Self.feedIndexFolder),
                                                            publishPath: output, live: tree.live, planned: plan.digests),
                                    logger: logger)
            let feedKinds = Set(toRender.compactMap { planned -> FeedWork.Kind? in
                switch planned.work {
                case .sitemap: .sitemap
                case .atom: .atom
                case .merchant: .merchant
                case .search: .search
                default: nil
                }
            })
            let feeds = Task { try await feedWork.render(feedKinds) }
            feedTask = feeds

            // Product pages, the bulk of a build, render on every core: a window of pages at a time,
            // split between the workers, then written in order. Memory holds one window, never the site.
            let workers = max(1, jobs)
            let window = workers * 64
            let productOutputs = toRender.filter { if case .product = $0.work { true } else { false } }
            let renderer = ProductPageRenderer(
                models: models, theme: theme, currency: config.currency,
                precompress: config.precompress)
            for start in stride(from: 0, to: productOutputs.count, by: window) {
                let slice = Array(productOutputs[start..<min(start + window, productOutputs.count)])
                // Indices into the catalog, not copies of its products.
                let batch = slice.map { planned -> Int in
                    guard case .product(let index) = planned.work else { preconditionFailure("not a product page") }
                    return index
                }
                for planned in slice { try tree.prepare(planned.path, digest: planned.digest) }
                let files = try await renderer.renderAndWrite(products, at: batch, paths: slice.map(\.path), writer: tree.writer, workers: workers)
                for (planned, file) in zip(slice, files) { recordWritten(planned, file) }
            }
            clock.lap("product pages")

            // Cards (each product as a listing shows it) are rendered once, for every listing that
            // needs them: Hugo's partialCached. Only those of the pages rendered now.
            let listingOutputs = toRender.filter { if case .listing = $0.work { true } else { false } }
            let rendersHome = toRender.contains { if case .home = $0.work { true } else { false } }
            var needed: [Product] = []
            var seen: Set<String> = []
            func need(_ product: Product) { if seen.insert(product.handle).inserted { needed.append(product) } }
            for planned in listingOutputs {
                guard case .listing(let index, let number) = planned.work else { continue }
                let collection = collections[index]
                for member in collection.indicesOnPage(number, pageSize: config.pageSize) { need(collection.product(member)) }
            }
            if rendersHome { plan.newest.forEach(need) }
            let cards = try await CardRenderer(models: models, theme: theme).render(needed, workers: workers)

            let listings = ListingPageRenderer(models: models, theme: theme, cards: cards, siteTitle: config.title,
                                               pageSize: config.pageSize, precompress: config.precompress)
            for start in stride(from: 0, to: listingOutputs.count, by: window) {
                let slice = Array(listingOutputs[start..<min(start + window, listingOutputs.count)])
                let work = slice.map { planned -> NumberedCollectionPage in
                    guard case .listing(let index, let number) = planned.work else { preconditionFailure("not a listing") }
                    return NumberedCollectionPage(collection: collections[index], number: number)
                }
                for planned in slice { try tree.prepare(planned.path, digest: planned.digest) }
                let files = try await listings.renderAndWrite(work, paths: slice.map(\.path), writer: tree.writer, workers: workers)
                for (planned, file) in zip(slice, files) { recordWritten(planned, file) }
            }
            clock.lap("collection pages")

            for planned in toRender {
                switch planned.work {
                case .product, .listing:
                    continue
                case .home:
                    let newest = plan.newest.compactMap { cards[$0.handle] }
                    try write(planned, theme.render(models.context(
                        page: models.page(title: config.title, description: config.tagline, path: "/"),
                        extra: ["products": .list(newest), "collections": .list(departments.map { .fields($0) })]), template: "home"))
                case .collectionsIndex:
                    try write(planned, theme.render(models.context(
                        page: models.page(title: "Collections", description: "Every collection of \(config.title).", path: "/collections/"),
                        extra: ["collections": .list(collections.map { .fields(models.collectionLink($0)) })]), template: "collections"))
                case .content(let index):
                    let page = pages[index]
                    var pageModel = models.page(title: page.title, description: page.description, path: "/\(page.slug)/")
                    pageModel["content"] = .text(page.html)
                    try write(planned, theme.render(models.context(page: pageModel), template: "page"))
                case .notFound:
                    try write(planned, theme.render(models.context(
                        page: models.page(title: "Page not found", description: "", path: "/404.html")), template: "404"))
                case .sitemap, .atom, .merchant, .search:
                    switch try await feeds.value[planned.path] {
                    case .rendered(let page):
                        try page.html.withUnsafeBytes {
                            try tree.write(planned.path, digest: planned.digest, bytes: $0, compressed: page.compressed)
                        }
                        rendered.append(planned.path)
                        step()
                    case .written(let file):
                        recordWritten(planned, file)
                        segmentsReused += file.segmentsReused
                    case nil:
                        throw BuildError(.plan, file: planned.path, "the plan and the feeds rendered disagree")
                    }
                case .robots:
                    try write(planned, Sitemap.robots(urls: models.urls))
                case .staticFile(let source, let relative):
                    if let contents = assets.fingerprinted[relative] {
                        try contents.bytes.withUnsafeBytes { try tree.write(planned.path, digest: planned.digest, bytes: $0) }
                    } else {
                        try tree.copy(from: source, to: planned.path, digest: planned.digest)
                    }
                    rendered.append(planned.path)
                    step()
                case .imageFile(let source):
                    try tree.link(from: source, to: planned.path, digest: planned.digest)
                    rendered.append(planned.path)
                    step()
                case .marker:
                    try write(planned, OutputTree.markerText)
                case .gitKeep:
                    try write(planned, "")
                }
            }
            clock.lap("feeds and files")
            try tree.publish(encoded: try? await manifest.value)
            clock.lap("publish")
            var report = plan.report(output: output, rendered: rendered, tree: tree, images: images.report)
            report.compressedSegmentsReused = segmentsReused
            if leavesMemoryToExit { LeftForExit.keep(products, collections, plan, live as Any, tree, rendered) }
            logger.info("build published", metadata: [
                "rendered": "\(rendered.count)", "kept": "\(tree.filesKept)", "removed": "\(tree.filesRemoved)",
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

/// Runs `work`, which blocks for long (a feed of the whole catalog), on a thread of its own.
/// On one of Swift's cooperative threads it would hold that thread until done: with two cores,
/// two feeds held both, and a one-product rebuild's few listing pages waited 50-90 ms for them
/// rather than sharing the cores.
func onThreadOfItsOwn<Result: Sendable>(_ work: @escaping @Sendable () throws -> Result) async throws -> Result {
    try await withCheckedThrowingContinuation { continuation in
        let thread = Thread { continuation.resume(with: Swift.Result { try work() }) }
        thread.stackSize = 8 << 20
        thread.start()
    }
}

/// What a command-line build leaves allocated for the process's exit (`leavesMemoryToExit`).
enum LeftForExit {
    private final class Kept: @unchecked Sendable {
        let values: [Any]
        init(_ values: [Any]) { self.values = values }
    }

    private static let kept = Mutex<[Kept]>([])

    static func keep(_ values: Any...) {
        let box = Kept(values)
        kept.withLock { $0.append(box) }
    }
}

/// Renders product pages on several workers. Holds the build's models, which are immutable from
/// here on: value dictionaries of strings, numbers and booleans that rendering only reads.
final class ProductPageRenderer: @unchecked Sendable {
    typealias Page = RenderedPage

    private let models: PageModels
    private let theme: Theme
    private let currency: Currency
    private let precompress: Bool

    init(models: PageModels, theme: Theme, currency: Currency, precompress: Bool) {
        self.models = models
        self.theme = theme
        self.currency = currency
        self.precompress = precompress
    }

    /// Renders the pages of `catalog[indices[n]]` and writes each to `paths[n]`, on `workers` workers.
    func renderAndWrite(_ catalog: [Product], at indices: [Int], paths: [String], writer: OutputTree.Writer, workers: Int) async throws -> [WrittenFile] {
        // Indices, not (product, path) pairs: copying 10,000 products into work items, and again
        // into each worker's share, was about a twentieth of a whole build.
        try await renderInParallel(Array(indices.indices), workers: workers) { item in
            try self.render(catalog[indices[item]]).write(to: paths[item], with: writer)
        }
    }

    func render(_ product: Product) throws -> Page {
        let path = PageModels.productPath(product)
        let title = product.seoTitle.isEmpty ? product.title : product.seoTitle
        let trail = models.trail(for: product)
        let text = PlainText.fromHTML(product.bodyHTML)
        var page = models.page(title: title, description: models.description(of: product, text: text), path: path)
        if let image = product.images.first.flatMap({ models.imageURL($0.src) }) { page["image"] = .text(image) }
        do {
            page["structuredData"] = .text(try StructuredData.productPage(
                product, description: text, images: product.images.compactMap { models.imageURL($0.src) },
                trail: trail, currency: currency, urls: models.urls))
        } catch {
            throw BuildError(.render, file: path, "cannot write the product's JSON-LD: \(error)")
        }
        let html = try theme.render(models.context(
            page: page, extra: ["product": .fields(models.product(product, text: text)), "breadcrumbs": models.breadcrumbs(trail)]), template: "product")
        return RenderedPage(path: path, html: html, precompress: precompress)
    }
}

struct ListingPageWork: Sendable {
    let page: NumberedCollectionPage
    let path: String
}

/// What a worker wrote: the bytes (page and .gz) and whether there is a .gz.
struct WrittenFile: Sendable {
    let bytes: Int
    let compressed: Bool
    /// Segments of its .gz taken from the live .gz (the Merchant Center feed's: SegmentedGzip).
    var segmentsReused = 0
}

/// A page rendered on a worker, with its .gz made there too.
struct RenderedPage: Sendable {
    func write(to relativePath: String, with writer: OutputTree.Writer) throws -> WrittenFile {
        let bytes = try html.withUnsafeBytes { try writer.write(relativePath, bytes: $0, compressed: compressed) }
        return WrittenFile(bytes: bytes, compressed: compressed != nil)
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

/// Renders `items` split between `workers` tasks; the results come back in the items' order.
func renderInParallel<Item: Sendable, Result: Sendable>(
    _ items: [Item], workers: Int, _ render: @escaping @Sendable (Item) throws -> Result
) async throws -> [Result] {
    guard workers > 1, items.count > 1 else { return try items.map(render) }
    // Chunks are handed out as workers ask for them, not in equal shares fixed up front: a
    // worker that shares its core with a feed task falls behind without keeping the others
    // waiting at the end. Small enough to balance, large enough that asking costs nothing.
    let chunkSize = max(1, min(64, items.count / (workers * 8)))
    let chunkCount = (items.count + chunkSize - 1) / chunkSize
    let next = ChunkCounter()
    return try await withThrowingTaskGroup(of: [(Int, [Result])].self) { group in
        for _ in 0..<min(workers, chunkCount) {
            group.addTask {
                var done: [(Int, [Result])] = []
                while true {
                    let chunk = next.take()
                    guard chunk < chunkCount else { return done }
                    let start = chunk * chunkSize
                    done.append((chunk, try items[start..<min(start + chunkSize, items.count)].map(render)))
                }
            }
        }
        var chunks = [[Result]](repeating: [], count: chunkCount)
        for try await done in group { for (chunk, results) in done { chunks[chunk] = results } }
        return chunks.flatMap { $0 }
    }
}

/// The next chunk of a `renderInParallel` call, shared by its workers.
final class ChunkCounter: Sendable {
    private let value = Atomic<Int>(0)
    func take() -> Int { value.wrappingAdd(1, ordering: .relaxed).oldValue }
}

/// Renders collection pages on several workers; like ProductPageRenderer, it only reads the
/// build's immutable models and cards.
final class ListingPageRenderer: @unchecked Sendable {
    private let models: PageModels
    private let theme: Theme
    private let cards: [String: TemplateValue]
    private let siteTitle: String
    private let pageSize: Int
    private let precompress: Bool

    init(models: PageModels, theme: Theme, cards: [String: TemplateValue], siteTitle: String, pageSize: Int, precompress: Bool) {
        self.models = models
        self.theme = theme
        self.cards = cards
        self.siteTitle = siteTitle
        self.pageSize = pageSize
        self.precompress = precompress
    }

    func renderAndWrite(_ pages: [NumberedCollectionPage], paths: [String], writer: OutputTree.Writer, workers: Int) async throws -> [WrittenFile] {
        let work = zip(pages, paths).map { ($0.0, $0.1) }.map { ListingPageWork(page: $0.0, path: $0.1) }
        return try await renderInParallel(work, workers: workers) { item in
            try self.render(item.page.collection, page: item.page.number).write(to: item.path, with: writer)
        }
    }

    func render(_ collection: ProductCollection, page number: Int) throws -> RenderedPage {
        let path = collection.path(page: number)
        let title = number == 1 ? collection.title : "\(collection.title), page \(number)"
        let description = "\(collection.title) at \(siteTitle): \(PageModels.countText(collection.count))."
        let html = try theme.render(models.context(
            page: models.page(title: title, description: description, path: path),
            extra: models.collectionPage(collection, page: number, cards: cards)), template: "collection")
        return RenderedPage(path: path, html: html, precompress: precompress)
    }
}

/// One page of one collection, as work for a renderer.
struct NumberedCollectionPage: Sendable {
    let collection: ProductCollection
    let number: Int
}

/// Renders each product's card (the product-card template) once per build, on several workers:
/// a product shows on its type's listing and every tag's, and on the home page, so rendering its
/// card per listing page was most of the listings' cost. Listings insert the HTML as it is.
final class CardRenderer: @unchecked Sendable {
    // Unchecked: models and theme are immutable here; rendering only reads them.
    private let models: PageModels
    private let theme: Theme

    init(models: PageModels, theme: Theme) {
        self.models = models
        self.theme = theme
    }

    /// Handle -> the card's fields, with `html` (the rendered card) when the theme has a product-card.
    func render(_ products: [Product], workers: Int) async throws -> [String: TemplateValue] {
        let hasCardTemplate = theme.templateFiles["product-card"] != nil
        let rendered = try await renderInParallel(products, workers: workers) { product -> RenderedCard in
            var card = self.models.card(product)
            if hasCardTemplate {
                // Without the template file's last line end: `{{{html}}}` on a line of its own adds
                // one, so a listing reads as it did with `{{> product-card}}` there.
                var html = try self.theme.render(self.models.cardContext(card), template: "product-card")
                if html.last == 0x0A { html.removeLast() }
                card["html"] = .text(String(decoding: html, as: UTF8.self))
            }
            return RenderedCard(fields: .fields(card))
        }
        var cards: [String: TemplateValue] = [:]
        cards.reserveCapacity(products.count)
        for (product, card) in zip(products, rendered) { cards[product.handle] = card.fields }
        return cards
    }
}

/// A card's fields (strings, numbers, booleans and the rendered html) handed back from a worker.
struct RenderedCard: Sendable {
    let fields: TemplateValue
}

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
