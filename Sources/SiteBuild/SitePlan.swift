import Foundation
import Logging
import ShopCore
import ShopImages

/// What one output of the site is made from: which page, feed or file.
enum OutputWork {
    case home
    /// Index into the catalog's products.
    case product(Int)
    /// Index into the collections, and the 1-based page number.
    case listing(Int, Int)
    case collectionsIndex
    /// Index into the content pages.
    case content(Int)
    case notFound
    case sitemap
    case robots
    case atom
    case merchant
    case search
    case staticFile(source: String, relative: String)
    /// A file of a responsive image set, from the image cache.
    case imageFile(source: String)
    case marker
    case gitKeep

    var isPage: Bool {
        switch self {
        case .home, .product, .listing, .collectionsIndex, .content, .notFound: true
        default: false
        }
    }

    var isFeed: Bool {
        switch self {
        case .sitemap, .robots, .atom, .merchant, .search: true
        default: false
        }
    }
}

/// One output of the plan: where it goes, the digest of everything it is made from, and what.
struct PlannedOutput {
    let path: String
    let digest: String
    let work: OutputWork
}

/// Every output of the site with the digest of all its inputs, worked out before anything is
/// rendered: an output whose digest the published site already has need not be rendered again,
/// and when every digest matches, the build is over before it opened a file.
///
/// What goes into a digest is everything its output reads: for every page the templates, the
/// settings, the header and footer (`shared`); for a product page its product (every stored
/// field) and breadcrumb trail; for a listing page the products on it and the paging; for the
/// feeds the products they list and the build day where they print it.
struct SitePlan {
    private(set) var outputs: [PlannedOutput] = []
    /// Relative path -> digest: compared whole with the live site's manifest.
    private(set) var digests: [String: String] = [:]
    /// Relative path -> what asked for it, to name both sides when two outputs claim one path.
    private var owners: [String: String] = [:]
    /// Root-relative paths of every page a search engine should know (all but 404.html), in site order.
    private(set) var indexable: [String] = []
    /// The newest products, newest first: the home page's grid.
    let newest: [Product]
    private let counts: (products: Int, contentPages: Int, collections: Int, staticFiles: Int)

    init(
        products: [Product], collections: [ProductCollection], pages: [ContentPage], theme: Theme,
        assets: FingerprintedAssets, models: PageModels, fragments: [String], stylesheet: String, day: BuildDay,
        sitemapLimit: Int, hasGitKeep: Bool, imageFiles: [String: String] = [:], imageKeys: [String: String] = [:]
    ) throws {
        let config = models.config
        counts = (products.count, pages.count, collections.count, theme.staticFiles.count)
        // The newest products first: the store returns them in the order they were added.
        newest = Array(products.suffix(config.pageSize).reversed())

        var common = InputDigest("shared-\(BuildManifest.formatVersion)")
        for (name, text) in theme.templateTexts.sorted(by: { $0.key < $1.key }) {
            common.add(name)
            common.add(text)
        }
        common.add([config.title, config.tagline, config.baseURL.absoluteString, config.currency.code, config.locale,
                    config.language, "\(config.precompress)", "\(config.pageSize)", stylesheet, "\(day.year)"])
        for page in pages where page.menu { common.add(page.title); common.add(page.slug); common.add(page.weight) }
        fragments.forEach { common.add($0) }
        let shared = common.finish()
        func digest(_ kind: String, _ fill: (inout InputDigest) -> Void) -> String {
            var digest = InputDigest(kind)
            digest.add(shared)
            fill(&digest)
            return digest.finish()
        }

        // Each product's own digest, which every output showing it takes in.
        let productDigests = Self.digests(of: products, imageKeys: imageKeys)
        var byHandle: [String: String] = [:]
        byHandle.reserveCapacity(products.count)
        for (product, digest) in zip(products, productDigests) { byHandle[product.handle] = digest }
        let collectionsBySlug = Dictionary(collections.map { ($0.slug, $0) }, uniquingKeysWith: { first, _ in first })

        try add("index.html", digest("home") { digest in
            newest.forEach { digest.add(byHandle[$0.handle] ?? "") }
            for collection in collections where collection.isProductType {
                digest.add(collection.slug); digest.add(collection.title); digest.add(collection.products.count)
            }
        }, .home, page: "/", from: "the home page")

        for (index, product) in products.enumerated() {
            let path = PageModels.productPath(product)
            try add(String(path.dropFirst()) + "index.html", digest("product-page") { digest in
                digest.add(productDigests[index])
                for crumb in models.trail(for: product, collections: collectionsBySlug) { digest.add(crumb.title); digest.add(crumb.path) }
            }, .product(index), page: path, from: "product \(product.handle)")
        }

        let pageSize = config.pageSize
        for (index, collection) in collections.enumerated() {
            let total = collection.pageCount(pageSize: pageSize)
            for number in 1...total {
                let path = collection.path(page: number)
                try add(String(path.dropFirst()) + "index.html", digest("listing") { digest in
                    digest.add(collection.slug); digest.add(collection.title); digest.add(collection.products.count)
                    digest.add(number); digest.add(total)
                    collection.productsOnPage(number, pageSize: pageSize).forEach { digest.add(byHandle[$0.handle] ?? "") }
                }, .listing(index, number), page: path, from: "collection \(collection.slug)")
            }
        }

        try add("collections/index.html", digest("collections") { digest in
            for collection in collections {
                digest.add(collection.slug); digest.add(collection.title); digest.add(collection.products.count)
            }
        }, .collectionsIndex, page: "/collections/", from: "the collections index")

        for (index, page) in pages.enumerated() {
            try add("\(page.slug)/index.html", digest("content") { digest in
                digest.add(page.slug); digest.add(page.title); digest.add(page.description); digest.add(page.html)
            }, .content(index), page: "/\(page.slug)/", from: page.file)
        }
        try add("404.html", digest("404") { _ in }, .notFound, page: nil, from: "the 404 page")

        // Feeds and sitemaps say nothing of templates: only their own inputs go into their digests.
        var catalog = InputDigest("catalog")
        productDigests.forEach { catalog.add($0) }
        let catalogDigest = catalog.finish()
        let base = config.baseURL.absoluteString

        var sitemap = InputDigest("sitemap")
        sitemap.add([base, day.date, "\(sitemapLimit)"])
        sitemap.add(config.precompress)  // whether a .gz stands beside it
        indexable.forEach { sitemap.add($0) }
        let sitemapDigest = sitemap.finish()
        let limit = max(1, sitemapLimit)
        if indexable.count > limit {
            for part in 1...((indexable.count + limit - 1) / limit) {
                try add("sitemap-\(part).xml", sitemapDigest, .sitemap, page: nil, from: "the sitemap")
            }
        }
        try add("sitemap.xml", sitemapDigest, .sitemap, page: nil, from: "the sitemap")
        // A shop's own static/robots.txt is its word on crawling: it replaces ours.
        if theme.staticFiles["robots.txt"] == nil {
            var robots = InputDigest("robots")
            robots.add(base)
        robots.add(config.precompress)  // whether a .gz stands beside it
            try add("robots.txt", robots.finish(), .robots, page: nil, from: "robots.txt")
        }
        var atom = InputDigest("atom")
        atom.add([base, config.title, config.tagline, config.language, day.timestamp])
        atom.add(config.precompress)  // whether a .gz stands beside it
        products.suffix(AtomFeed.entryCount).forEach { atom.add(byHandle[$0.handle] ?? "") }
        try add(AtomFeed.path, atom.finish(), .atom, page: nil, from: "the Atom feed")
        var merchant = InputDigest("merchant")
        merchant.add([base, config.title, config.tagline, config.currency.code, catalogDigest])
        merchant.add(config.precompress)  // whether a .gz stands beside it
        try add(MerchantFeed.path, merchant.finish(), .merchant, page: nil, from: "the Merchant Center feed")
        var search = InputDigest("search")
        search.add([config.currency.code, config.locale, catalogDigest])
        search.add(config.precompress)  // whether a .gz stands beside it
        try add(SearchIndex.path, search.finish(), .search, page: nil, from: "the search index")

        try add(OutputTree.markerName, "marker-1", .marker, page: nil, from: "ishop")
        // public/.gitkeep is tracked by git in the shop's repository: carry it over.
        if hasGitKeep { try add(".gitkeep", "gitkeep", .gitKeep, page: nil, from: "ishop") }
        owners[BuildManifest.fileName] = "ishop"
        // Content-addressed: the name is the digest.
        for (path, source) in imageFiles.sorted(by: { $0.key < $1.key }) {
            try add(path, "image:" + path, .imageFile(source: source), page: nil, from: "the image stage")
        }

        for (relative, source) in theme.staticFiles.sorted(by: { $0.key < $1.key }) {
            let target = assets.fingerprinted[relative]?.path ?? relative
            // "x.js.gz" beside an output "x.js" would fight the .gz the build writes for it.
            if owners[target] != nil || (target.hasSuffix(".gz") && owners[String(target.dropLast(3))] != nil) {
                throw BuildError(.plan, file: source, """
                    would replace /\(target), which the build writes itself; remove or rename the static file
                    """)
            }
            var digest = InputDigest("static")
            digest.add(config.precompress)
            if let asset = assets.fingerprinted[relative] {
                asset.bytes.withUnsafeBytes { digest.add(bytes: $0) }
            } else if let data = FileManager.default.contents(atPath: source) {
                data.withUnsafeBytes { digest.add(bytes: $0) }
            } else {
                throw BuildError(.theme, file: source, "cannot be read")
            }
            try add(target, digest.finish(), .staticFile(source: source, relative: relative), page: nil, from: source)
        }
    }

    /// Each product's digest, worked out on every core (a no-op build is mostly this and the catalog read).
    /// A product's pictures are part of it: a set made anew (a changed source) renders its pages again.
    static func digests(of products: [Product], imageKeys: [String: String]) -> [String] {
        let output = WorkerSlots(count: products.count, repeating: "")
        let chunk = 256
        DispatchQueue.concurrentPerform(iterations: (products.count + chunk - 1) / chunk) { part in
            for index in (part * chunk)..<min(products.count, (part + 1) * chunk) {
                var digest = InputDigest("product")
                digest.add(products[index])
                for image in products[index].images { digest.add(imageKeys[image.src] ?? "-") }
                output.slots[index] = digest.finish()
            }
        }
        return output.array
    }

    private mutating func add(_ path: String, _ digest: String, _ work: OutputWork, page: String?, from owner: String) throws {
        // The manifest has one output per line: a path cannot hold a line break (nor start blank).
        if path.utf8.contains(where: { $0 < 0x20 }) {
            throw BuildError(.plan, file: owner, "the output path \"\(path.prefix(80))\" holds a control character")
        }
        if let other = owners[path] {
            throw BuildError(.plan, file: owner, "would be written to /\(path), which \(other) writes too; rename one of them")
        }
        owners[path] = owner
        outputs.append(PlannedOutput(path: path, digest: digest, work: work))
        digests[path] = digest
        if let page { indexable.append(page) }
    }

    func report(output: String, rendered: [String], tree: OutputTree?, images: ImageReport?) -> SiteBuilder.Report {
        let renderedPaths = Set(rendered)
        var report = SiteBuilder.Report()
        report.products = counts.products
        report.contentPages = counts.contentPages
        report.collections = counts.collections
        report.staticFiles = counts.staticFiles
        for planned in outputs {
            if planned.work.isPage {
                report.pagesWritten += 1
                if !renderedPaths.contains(planned.path) { report.pagesReused += 1 }
            } else if case .imageFile = planned.work {
                report.imageFiles += 1
            } else if planned.work.isFeed {
                report.feedsWritten += 1
                if !renderedPaths.contains(planned.path) { report.feedsReused += 1 }
            }
        }
        if let images {
            report.imagesProcessed = images.processed
            report.imagesCached = images.cached
            report.imagesFailed = images.failed
            report.imageBytesSaved = images.bytesSaved
            report.imageWarnings = images.warnings.map(\.description)
        }
        report.rendered = rendered
        report.compressedFiles = tree?.compressedFilesWritten ?? 0
        report.outputsRemoved = tree?.filesRemoved ?? 0
        report.bytesWritten = tree?.bytesWritten ?? 0
        report.output = output
        return report
    }
}

/// Times the stages of a build for the debug log (`--log-level debug`), where a slow one shows.
struct StageClock {
    let logger: Logger
    private let clock = ContinuousClock()
    private var last: ContinuousClock.Instant

    init(logger: Logger) {
        self.logger = logger
        last = clock.now
    }

    mutating func lap(_ stage: String) {
        let now = clock.now
        let elapsed = now - last
        last = now
        let milliseconds = Double(elapsed.components.seconds) * 1000 + Double(elapsed.components.attoseconds) / 1e15
        logger.debug("build stage done", metadata: ["stage": "\(stage)", "ms": "\(Int(milliseconds.rounded()))"])
    }
}
