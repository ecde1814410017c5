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
    /// What names the owners of outputs in errors (two outputs claiming one path).
    private let handles: [String]
    private let slugs: [String]
    private let contentFiles: [String]
    /// Root-relative paths of every page a search engine should know (all but 404.html), in site order.
    private(set) var indexable: [String] = []
    /// Each product's digest (every stored field and its pictures), in catalog order.
    let productDigests: [String]
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
        handles = products.map(\.handle)
        slugs = collections.map(\.slug)
        contentFiles = pages.map(\.file)
        // The newest products first: the store returns them in the order they were added.
        newest = Array(products.suffix(config.pageSize).reversed())

        var common = InputDigest("shared-\(BuildManifest.formatVersion)")
        for (name, text) in theme.templateTexts.sorted(by: { $0.key < $1.key }) {
            common.add(name)
            common.add(text)
        }
        common.add([config.title, config.tagline, config.baseURL.absoluteString, config.currency.code, config.locale,
                    config.language, "\(config.precompress)", "\(config.pageSize)", stylesheet, "\(day.year)"])
        // Pages link to the Atom feed and to tag collections only while those are written.
        common.add([config.outputs.tagCollections, config.outputs.atomFeed].map { $0 ? "on" : "off" })
        for page in pages where page.menu { common.add(page.title); common.add(page.slug); common.add(page.weight) }
        fragments.forEach { common.add($0) }
        let shared = common.finish()
        func digest(_ kind: String, _ fill: (inout InputDigest) -> Void) -> String {
            var digest = InputDigest(kind)
            digest.add(shared)
            fill(&digest)
            return digest.finish()
        }

        // Each product's own digest, which every output showing it takes in, and its page's.
        let productOutputs = Self.productOutputs(of: products, imageKeys: imageKeys) { index, productDigest in
            digest("product-page") { digest in
                digest.add(productDigest)
                for crumb in models.trail(for: products[index]) { digest.add(crumb.title); digest.add(crumb.path) }
            }
        }
        let productDigests = productOutputs.map(\.productDigest)
        self.productDigests = productDigests
        var byHandle: [String: String] = [:]
        byHandle.reserveCapacity(newest.count + AtomFeed.entryCount)
        for index in products.indices.suffix(max(config.pageSize, AtomFeed.entryCount)) { byHandle[products[index].handle] = productDigests[index] }
        outputs.reserveCapacity(products.count + collections.count * 2 + 64)
        digests.reserveCapacity(products.count + collections.count * 2 + 64)
        indexable.reserveCapacity(products.count + collections.count * 2 + 64)

        try add("index.html", digest("home") { digest in
            newest.forEach { digest.add(byHandle[$0.handle] ?? "") }
            for collection in collections where collection.isProductType {
                digest.add(collection.slug); digest.add(collection.title); digest.add(collection.count)
            }
        }, .home, page: "/")

        for (index, output) in productOutputs.enumerated() {
            try add(output.file, output.pageDigest, .product(index), page: output.page)
        }

        let pageSize = config.pageSize
        for (index, collection) in collections.enumerated() {
            let total = collection.pageCount(pageSize: pageSize)
            for number in 1...total {
                let path = collection.path(page: number)
                try add(String(path.dropFirst()) + "index.html", digest("listing") { digest in
                    digest.add(collection.slug); digest.add(collection.title); digest.add(collection.count)
                    digest.add(number); digest.add(total)
                    collection.indicesOnPage(number, pageSize: pageSize).forEach { digest.add(productDigests[Int($0)]) }
                }, .listing(index, number), page: path)
            }
        }

        try add("collections/index.html", digest("collections") { digest in
            for collection in collections {
                digest.add(collection.slug); digest.add(collection.title); digest.add(collection.count)
            }
        }, .collectionsIndex, page: "/collections/")

        for (index, page) in pages.enumerated() {
            try add("\(page.slug)/index.html", digest("content") { digest in
                digest.add(page.slug); digest.add(page.title); digest.add(page.description); digest.add(page.html)
            }, .content(index), page: "/\(page.slug)/")
        }
        try add("404.html", digest("404") { _ in }, .notFound, page: nil)

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
                try add("sitemap-\(part).xml", sitemapDigest, .sitemap, page: nil)
            }
        }
        try add("sitemap.xml", sitemapDigest, .sitemap, page: nil)
        // A shop's own static/robots.txt is its word on crawling: it replaces ours.
        if theme.staticFiles["robots.txt"] == nil {
            var robots = InputDigest("robots")
            robots.add(base)
        robots.add(config.precompress)  // whether a .gz stands beside it
            try add("robots.txt", robots.finish(), .robots, page: nil)
        }
        var atom = InputDigest("atom")
        atom.add([base, config.title, config.tagline, config.language, day.timestamp])
        atom.add(config.precompress)  // whether a .gz stands beside it
        products.suffix(AtomFeed.entryCount).forEach { atom.add(byHandle[$0.handle] ?? "") }
        if config.outputs.atomFeed { try add(AtomFeed.path, atom.finish(), .atom, page: nil) }
        var merchant = InputDigest("merchant")
        merchant.add([base, config.title, config.tagline, config.currency.code, catalogDigest])
        merchant.add(config.precompress)  // whether a .gz stands beside it
        if config.outputs.merchantFeed { try add(MerchantFeed.path, merchant.finish(), .merchant, page: nil) }
        var search = InputDigest("search")
        search.add([config.currency.code, config.locale, catalogDigest])
        search.add(config.precompress)  // whether a .gz stands beside it
        if config.outputs.searchIndex { try add(SearchIndex.path, search.finish(), .search, page: nil) }

        try add(OutputTree.markerName, "marker-1", .marker, page: nil)
        // public/.gitkeep is tracked by git in the shop's repository: carry it over.
        if hasGitKeep { try add(".gitkeep", "gitkeep", .gitKeep, page: nil) }
        // Content-addressed: the name is the digest.
        for (path, source) in imageFiles.sorted(by: { $0.key < $1.key }) {
            try add(path, "image:" + path, .imageFile(source: source), page: nil)
        }

        for (relative, source) in theme.staticFiles.sorted(by: { $0.key < $1.key }) {
            let target = assets.fingerprinted[relative]?.path ?? relative
            // "x.js.gz" beside an output "x.js" would fight the .gz the build writes for it.
            if isTaken(target) || (target.hasSuffix(".gz") && isTaken(String(target.dropLast(3)))) {
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
            try add(target, digest.finish(), .staticFile(source: source, relative: relative), page: nil)
        }
    }

    /// A product's digest and its page's output, worked out on a worker.
    struct ProductOutput {
        var productDigest = ""
        var pageDigest = ""
        /// Relative output path ("products/<handle>/index.html") and the page's address.
        var file = ""
        var page = ""
    }

    /// Each product's digest and its page's, on every core (a no-op build is mostly this and the
    /// catalog read). A product's pictures are part of its digest: a set made anew (a changed
    /// source) renders its pages again. `pageDigest` makes the page's from the product's, given
    /// the product's index: a Product handed to a closure kept in a generic box was copied for
    /// each call (a reference count per field).
    static func productOutputs(
        of products: [Product], imageKeys: [String: String], pageDigest: (Int, String) -> String
    ) -> [ProductOutput] {
        let output = WorkerSlots(count: products.count, repeating: ProductOutput())
        let chunk = 256
        // Products are read in place through the buffer: `products[index]` passed to a function
        // copied the product (a reference count per field) each time.
        products.withUnsafeBufferPointer { buffer in
            let catalog = UncheckedBox(buffer)
            withoutActuallyEscaping(pageDigest) { pageDigest in
                let work = UncheckedBox(pageDigest)
                DispatchQueue.concurrentPerform(iterations: (buffer.count + chunk - 1) / chunk) { part in
                    let products = catalog.value
                    for index in (part * chunk)..<min(products.count, (part + 1) * chunk) {
                        var digest = InputDigest("product")
                        digest.add(products[index])
                        for image in products[index].images { digest.add(imageKeys[image.src] ?? "-") }
                        let productDigest = digest.finish()
                        let page = PageModels.productPath(products[index])
                        output.slots[index] = ProductOutput(
                            productDigest: productDigest, pageDigest: work.value(index, productDigest),
                            file: String(page.dropFirst()) + "index.html", page: page)
                    }
                }
            }
        }
        return output.array
    }

    /// The path is the manifest's, or an output's already.
    private func isTaken(_ path: String) -> Bool {
        path == BuildManifest.fileName || digests[path] != nil
    }

    /// Who writes an output, as errors name it.
    private func owner(of work: OutputWork) -> String {
        switch work {
        case .home: "the home page"
        case .product(let index): "product \(handles[index])"
        case .listing(let index, _): "collection \(slugs[index])"
        case .collectionsIndex: "the collections index"
        case .content(let index): contentFiles[index]
        case .notFound: "the 404 page"
        case .sitemap: "the sitemap"
        case .robots: "robots.txt"
        case .atom: "the Atom feed"
        case .merchant: "the Merchant Center feed"
        case .search: "the search index"
        case .staticFile(let source, _): source
        case .imageFile: "the image stage"
        case .marker, .gitKeep: "ishop"
        }
    }

    private mutating func add(_ path: String, _ digest: String, _ work: OutputWork, page: String?) throws {
        // The manifest has one output per line: a path cannot hold a line break (nor start blank).
        if path.utf8.contains(where: { $0 < 0x20 }) {
            throw BuildError(.plan, file: owner(of: work), "the output path \"\(path.prefix(80))\" holds a control character")
        }
        if isTaken(path) {
            let other = path == BuildManifest.fileName ? "ishop" : outputs.first { $0.path == path }.map { owner(of: $0.work) } ?? "ishop"
            throw BuildError(.plan, file: owner(of: work), "would be written to /\(path), which \(other) writes too; rename one of them")
        }
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
            report.imageWarnings = ImageWarningGroup.grouping(images.warnings)
        }
        report.rendered = rendered
        report.compressedFiles = tree?.compressedFilesWritten ?? 0
        report.outputsRemoved = tree?.filesRemoved ?? 0
        report.bytesWritten = tree?.bytesWritten ?? 0
        report.output = output
        return report
    }
}
