import Foundation
import Logging
import ShopCore
import ShopStore

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
        /// HTML pages: home, products, collection pages, the collections index, content pages, 404.
        public var pagesWritten = 0
        /// sitemap.xml (and its parts), robots.txt, feed.xml, merchant-feed.xml, search-index.json.
        public var feedsWritten = 0
        public var staticFiles = 0
        /// `.gz` files written beside text outputs.
        public var compressedFiles = 0
        /// Pages whose inputs did not change since the last build: taken over, not rendered.
        public var pagesReused = 0
        public var bytesWritten = 0
        public var output = ""
    }

    /// A step of progress for the terminal: what is being done, how far along.
    public struct Progress: Sendable {
        public var stage: BuildError.Stage
        public var done: Int
        public var total: Int
    }

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

    public init(config: SiteConfig, store: any Store, logger: Logger = Logger(label: "ishop.build")) {
        self.config = config
        self.store = store
        self.logger = logger
    }

    public func build(outputDirectory: String, progress: (Progress) -> Void = { _ in }) async throws -> Report {
        let output = URL(fileURLWithPath: outputDirectory).standardizedFileURL.path
        try checkOutputIsSafe(output)

        let products: [Product]
        do {
            products = try await store.catalog(includeUnpublished: false)
        } catch {
            throw BuildError(.catalog, "cannot read the catalog: \(error)")
        }
        // A handle becomes a folder name: one that is not a plain handle could climb out of public/.
        if let bad = products.first(where: { !Handle.isValid($0.handle) }) {
            throw BuildError(.plan, "product handle \"\(bad.handle.prefix(80))\" cannot be a page address (letters, digits, - and _ only)")
        }
        let pages = try ContentPage.loadAll(directory: config.resolve(config.contentDir), displayRoot: config.contentDir)
            .filter { !$0.draft }
        let theme = try Theme.load(config: config)
        let collections = ProductCollection.gather(products)
        logger.info("build planned", metadata: [
            "products": "\(products.count)", "collections": "\(collections.count)", "pages": "\(pages.count)",
            "theme": "\(config.theme)", "output": "\(output)",
        ])

        let day = BuildDay(buildDate ?? Date())
        let navigation = pages.filter(\.menu).sorted { ($0.weight, $0.title) < ($1.weight, $1.title) }
        let assets = try FingerprintedAssets(staticFiles: theme.staticFiles)
        var models = PageModels(config: config, navigation: navigation, stylesheet: assets.url(of: "css/shop.css") ?? "", year: day.year)
        let collectionsBySlug = Dictionary(collections.map { ($0.slug, $0) }, uniquingKeysWith: { first, _ in first })
        // The shop's departments: collections of a product type. Tags are listed at /collections/.
        let departments = collections.filter(\.isProductType).map { models.collectionLink($0) }

        // Rendered once, put into every page as it is: rendering them per page was most of a build.
        let fragmentContext = models.fragmentContext(collections: departments)
        let header = try theme.render(fragmentContext, template: "header")
        let footer = try theme.render(fragmentContext, template: "footer")
        models.fragments = ["header": header, "footer": footer]

        let cards = Dictionary(products.map { ($0.handle, models.card($0)) }, uniquingKeysWith: { first, _ in first })
        let pageSize = config.pageSize

        let tree = try OutputTree(publishPath: output, precompress: config.precompress)
        let filesBeforePages = tree.filesWritten
        var manifest = BuildManifest()
        var pagesReused = 0
        do {
            let collectionPages = collections.reduce(0) { $0 + $1.pageCount(pageSize: pageSize) }
            let total = 1 + products.count + collectionPages + 1 + pages.count + 1
            var done = 0
            func step() {
                done += 1
                if done % 200 == 0 || done == total { progress(Progress(stage: .render, done: done, total: total)) }
            }
            // Every page a search engine should know, for the sitemap (not 404.html).
            var indexable: [String] = []
            func writePage(_ path: String, _ html: String) throws {
                try tree.write(String(path.dropFirst()) + "index.html", html)
                indexable.append(path)
                step()
            }

            // The newest products first: the store returns them in the order they were added.
            let newest = products.suffix(pageSize).reversed().compactMap { cards[$0.handle] }
            try writePage("/", theme.render(models.context(
                page: models.page(title: config.title, description: config.tagline, path: "/"),
                extra: ["products": newest, "collections": departments]), template: "home"))

            // Product pages, the bulk of a build, render on every core: a window of pages at a time,
            // split between the workers, then written in order. Memory holds one window, never the site.
            let renderer = ProductPageRenderer(
                models: models, theme: theme, collections: collectionsBySlug, currency: config.currency,
                precompress: config.precompress)
            // A product page whose inputs (the product, its trail, templates, settings, header and
            // footer) have the digest the last build recorded is taken over as it is.
            let previous = BuildManifest.load(publishPath: output)
            let digests = try PageDigests(theme: theme, config: config, fragments: [header, footer],
                                          stylesheet: assets.url(of: "css/shop.css") ?? "")
            let workers = max(1, jobs)
            let window = workers * 64
            for start in stride(from: 0, to: products.count, by: window) {
                var toRender: [Product] = []
                for product in products[start..<min(start + window, products.count)] {
                    let path = PageModels.productPath(product)
                    let file = String(path.dropFirst()) + "index.html"
                    let digest = try digests.productPage(product, trail: models.trail(for: product, collections: collectionsBySlug))
                    manifest.pages[file] = digest
                    if previous.pages[file] == digest, try tree.reuse(file) {
                        pagesReused += 1
                        indexable.append(path)
                        step()
                    } else {
                        toRender.append(product)
                    }
                }
                for page in try await renderer.render(toRender, workers: workers) {
                    try page.html.withUnsafeBytes {
                        try tree.write(String(page.path.dropFirst()) + "index.html", bytes: $0, compressed: page.compressed)
                    }
                    indexable.append(page.path)
                    step()
                }
            }

            // Collection pages render on every core too, a window at a time, written in order.
            let listings = ListingPageRenderer(models: models, theme: theme, cards: cards, siteTitle: config.title,
                                               pageSize: pageSize, precompress: config.precompress)
            let collectionPageList = collections.flatMap { collection in
                (1...collection.pageCount(pageSize: pageSize)).map { (collection, $0) }
            }
            for start in stride(from: 0, to: collectionPageList.count, by: window) {
                let slice = Array(collectionPageList[start..<min(start + window, collectionPageList.count)])
                for page in try await listings.render(slice, workers: workers) {
                    try page.html.withUnsafeBytes {
                        try tree.write(String(page.path.dropFirst()) + "index.html", bytes: $0, compressed: page.compressed)
                    }
                    indexable.append(page.path)
                    step()
                }
            }
            try writePage("/collections/", theme.render(models.context(
                page: models.page(title: "Collections", description: "Every collection of \(config.title).", path: "/collections/"),
                extra: ["collections": collections.map { models.collectionLink($0) }]), template: "collections"))

            for page in pages {
                var pageModel = models.page(title: page.title, description: page.description, path: "/\(page.slug)/")
                pageModel["content"] = page.html
                try writePage("/\(page.slug)/", theme.render(models.context(page: pageModel), template: "page"))
            }

            try tree.write("404.html", theme.render(models.context(
                page: models.page(title: "Page not found", description: "", path: "/404.html")), template: "404"))
            step()
            let pagesWritten = tree.filesWritten - filesBeforePages + pagesReused

            let filesBeforeFeeds = tree.filesWritten
            for file in Sitemap.files(pagePaths: indexable, lastModified: day.date, urls: models.urls, limit: sitemapLimit) {
                try tree.write(file.path, file.xml)
            }
            // A shop's own static/robots.txt is its word on crawling: it replaces ours.
            if theme.staticFiles["robots.txt"] == nil { try tree.write("robots.txt", Sitemap.robots(urls: models.urls)) }
            try tree.write(AtomFeed.path, AtomFeed.xml(products: products, config: config, urls: models.urls, updated: day.timestamp))
            try tree.write(MerchantFeed.path, MerchantFeed.xml(products: products, config: config, urls: models.urls))
            do {
                try tree.write(SearchIndex.path, SearchIndex.json(products: products, prices: models.prices))
            } catch let error as BuildError {
                throw error
            } catch {
                throw BuildError(.render, file: SearchIndex.path, "cannot be encoded: \(error)")
            }
            let feedsWritten = tree.filesWritten - filesBeforeFeeds

            for (relative, source) in theme.staticFiles.sorted(by: { $0.key < $1.key }) {
                let target = assets.fingerprinted[relative]?.path ?? relative
                if tree.hasWritten(target) {
                    throw BuildError(.plan, file: source, """
                        would replace /\(target), which the build writes itself; remove or rename the static file
                        """)
                }
                if let contents = assets.fingerprinted[relative] {
                    try contents.bytes.withUnsafeBytes { try tree.write(contents.path, bytes: $0) }
                } else {
                    try tree.copy(from: source, to: relative)
                }
            }
            try tree.write(BuildManifest.fileName, String(decoding: try manifest.encoded(), as: UTF8.self))
            let report = Report(
                products: products.count, contentPages: pages.count, collections: collections.count,
                pagesWritten: pagesWritten, feedsWritten: feedsWritten, staticFiles: theme.staticFiles.count,
                compressedFiles: tree.compressedFilesWritten, pagesReused: pagesReused, bytesWritten: tree.bytesWritten,
                output: output)
            try tree.publish()
            logger.info("build published", metadata: ["pages": "\(report.pagesWritten)", "bytes": "\(report.bytesWritten)"])
            return report
        } catch {
            tree.discard()
            throw error
        }
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

/// Renders product pages on several workers. Holds the build's models, which are immutable from
/// here on: value dictionaries of strings, numbers and booleans that rendering only reads.
final class ProductPageRenderer: @unchecked Sendable {
    typealias Page = RenderedPage

    private let models: PageModels
    private let theme: Theme
    private let collections: [String: ProductCollection]
    private let currency: Currency
    private let precompress: Bool

    init(models: PageModels, theme: Theme, collections: [String: ProductCollection], currency: Currency, precompress: Bool) {
        self.models = models
        self.theme = theme
        self.collections = collections
        self.currency = currency
        self.precompress = precompress
    }

    /// The pages of `products`, in their order.
    func render(_ products: [Product], workers: Int) async throws -> [Page] {
        try await renderInParallel(products, workers: workers) { try self.render($0) }
    }

    func render(_ product: Product) throws -> Page {
        let path = PageModels.productPath(product)
        let title = product.seoTitle.isEmpty ? product.title : product.seoTitle
        let trail = models.trail(for: product, collections: collections)
        var page = models.page(title: title, description: models.description(of: product), path: path)
        if let image = product.images.first.flatMap({ models.urls.image($0.src) }) { page["image"] = image }
        do {
            page["structuredData"] = try StructuredData.productPage(product, trail: trail, currency: currency, urls: models.urls)
        } catch {
            throw BuildError(.render, file: path, "cannot write the product's JSON-LD: \(error)")
        }
        let html = try theme.render(models.context(
            page: page, extra: ["product": models.product(product), "breadcrumbs": models.breadcrumbs(trail)]), template: "product")
        return RenderedPage(path: path, html: html, precompress: precompress)
    }
}

/// A page rendered off the writing thread, with its .gz made there too.
struct RenderedPage: Sendable {
    let path: String
    let html: [UInt8]
    let compressed: [UInt8]?

    init(path: String, html: String, precompress: Bool) {
        self.path = path
        let bytes = Array(html.utf8)
        self.html = bytes
        compressed = precompress ? bytes.withUnsafeBytes { OutputTree.compressedCopy(of: $0, path: "index.html") } : nil
    }
}

/// Renders `items` split between `workers` tasks; the pages come back in the items' order.
func renderInParallel<Item: Sendable>(
    _ items: [Item], workers: Int, _ render: @escaping @Sendable (Item) throws -> RenderedPage
) async throws -> [RenderedPage] {
    guard workers > 1, items.count > 1 else { return try items.map(render) }
    let share = (items.count + workers - 1) / workers
    return try await withThrowingTaskGroup(of: (Int, [RenderedPage]).self) { group in
        for (index, start) in stride(from: 0, to: items.count, by: share).enumerated() {
            let part = Array(items[start..<min(start + share, items.count)])
            group.addTask { (index, try part.map(render)) }
        }
        var parts: [Int: [RenderedPage]] = [:]
        for try await (index, pages) in group { parts[index] = pages }
        return parts.keys.sorted().flatMap { parts[$0]! }
    }
}

/// Renders collection pages on several workers; like ProductPageRenderer, it only reads the
/// build's immutable models and cards.
final class ListingPageRenderer: @unchecked Sendable {
    private let models: PageModels
    private let theme: Theme
    private let cards: [String: [String: Any]]
    private let siteTitle: String
    private let pageSize: Int
    private let precompress: Bool

    init(models: PageModels, theme: Theme, cards: [String: [String: Any]], siteTitle: String, pageSize: Int, precompress: Bool) {
        self.models = models
        self.theme = theme
        self.cards = cards
        self.siteTitle = siteTitle
        self.pageSize = pageSize
        self.precompress = precompress
    }

    func render(_ pages: [(ProductCollection, Int)], workers: Int) async throws -> [RenderedPage] {
        let numbered = pages.map { NumberedCollectionPage(collection: $0.0, number: $0.1) }
        return try await renderInParallel(numbered, workers: workers) { try self.render($0.collection, page: $0.number) }
    }

    func render(_ collection: ProductCollection, page number: Int) throws -> RenderedPage {
        let path = collection.path(page: number)
        let title = number == 1 ? collection.title : "\(collection.title), page \(number)"
        let description = "\(collection.title) at \(siteTitle): \(PageModels.countText(collection.products.count))."
        let html = try theme.render(models.context(
            page: models.page(title: title, description: description, path: path),
            extra: models.collectionPage(collection, page: number, cards: cards)), template: "collection")
        return RenderedPage(path: path, html: html, precompress: precompress)
    }
}

/// One page of one collection, as work for a renderer.
struct NumberedCollectionPage: @unchecked Sendable {
    // Unchecked: ProductCollection holds products (values) and is never mutated after gathering.
    let collection: ProductCollection
    let number: Int
}
