import Foundation
import ShopCore

/// The render stages of a build, in the order they run: the feeds start on tasks of their own,
/// then the product pages, then the listings, then everything else (the feeds written when they
/// are done). Each writes into the spare through the OutputTree and records in the RenderLedger.
extension SiteBuilder {
    /// The feeds are large (the Merchant Center feed of 10,000 products is 30 MB) and need
    /// nothing but the catalog: they render beside the pages, each on its own task, and are
    /// written when the pages are done. The Merchant Center feed is written by its task straight
    /// into the tree, as it is made; that task deletes the old one too.
    func startFeeds(_ toRender: [PlannedOutput], _ site: PlannedSite, _ inputs: BuildInputs, tree: OutputTree, output: String)
        async throws -> Task<[String: FeedWork.Output], any Error>
    {
        for planned in toRender where planned.path == MerchantFeed.path {
            try await inStage(.write) { try tree.prepareMovingAside(planned.path, digest: planned.digest) }
        }
        let models = site.models
        let feedWork = FeedWork(products: inputs.products, config: config, urls: models.urls, prices: models.prices, day: site.day,
                                indexable: site.plan.indexable, sitemapLimit: sitemapLimit, precompress: config.precompress,
                                imageURLs: site.images.sets.compactMapValues { set in set.fallback.map { models.urls.page("/" + $0.file) } },
                                writer: tree.writer, workers: max(1, jobs), discard: tree.filesMovedAside,
                                pieces: FeedWork.Pieces(keys: site.plan.productDigests, folder: config.resolve(Self.feedIndexFolder),
                                                        publishPath: output, live: tree.live, planned: site.plan.digests),
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
        return Task { try await feedWork.render(feedKinds) }
    }

    /// Product pages, the bulk of a build, render on every core: a window of pages at a time,
    /// split between the workers, then written in order. Memory holds one window, never the site.
    func renderProductPages(_ toRender: [PlannedOutput], _ site: PlannedSite, _ inputs: BuildInputs, tree: OutputTree,
                            ledger: RenderLedger) async throws {
        let workers = max(1, jobs)
        let window = workers * 64
        let productOutputs = toRender.filter { if case .product = $0.work { true } else { false } }
        let renderer = ProductPageRenderer(models: site.models, theme: inputs.theme, currency: config.currency, precompress: config.precompress)
        for start in stride(from: 0, to: productOutputs.count, by: window) {
            let slice = Array(productOutputs[start..<min(start + window, productOutputs.count)])
            // Indices into the catalog, not copies of its products.
            let batch = slice.map { planned -> Int in
                guard case .product(let index) = planned.work else { preconditionFailure("not a product page") }
                return index
            }
            for planned in slice { try tree.prepare(planned.path, digest: planned.digest) }
            let files = try await renderer.renderAndWrite(inputs.products, at: batch, paths: slice.map(\.path), writer: tree.writer,
                                                          workers: workers)
            for (planned, file) in zip(slice, files) { ledger.recordWritten(planned, file) }
        }
    }

    /// Collection pages. Cards (each product as a listing shows it) are rendered once, for every
    /// listing that needs them (Hugo's partialCached), and only those of the pages rendered now
    /// and of the home page when it is rendered: returned for it.
    func renderListings(_ toRender: [PlannedOutput], _ site: PlannedSite, _ inputs: BuildInputs, tree: OutputTree,
                        ledger: RenderLedger) async throws -> [String: TemplateValue] {
        let workers = max(1, jobs)
        let window = workers * 64
        let collections = site.collections
        let listingOutputs = toRender.filter { if case .listing = $0.work { true } else { false } }
        let cards = try await neededCards(toRender, listingOutputs, site, inputs, workers: workers)
        let listings = ListingPageRenderer(models: site.models, theme: inputs.theme, cards: cards, siteTitle: config.title,
                                           pageSize: config.pageSize, precompress: config.precompress)
        for start in stride(from: 0, to: listingOutputs.count, by: window) {
            let slice = Array(listingOutputs[start..<min(start + window, listingOutputs.count)])
            let work = slice.map { planned -> NumberedCollectionPage in
                guard case .listing(let index, let number) = planned.work else { preconditionFailure("not a listing") }
                return NumberedCollectionPage(collection: collections[index], number: number)
            }
            for planned in slice { try tree.prepare(planned.path, digest: planned.digest) }
            let files = try await listings.renderAndWrite(work, paths: slice.map(\.path), writer: tree.writer, workers: workers)
            for (planned, file) in zip(slice, files) { ledger.recordWritten(planned, file) }
        }
        return cards
    }

    /// The cards of the products on the listing pages to render, and on the home page when it is
    /// rendered: handle -> card.
    private func neededCards(_ toRender: [PlannedOutput], _ listingOutputs: [PlannedOutput], _ site: PlannedSite, _ inputs: BuildInputs,
                             workers: Int) async throws -> [String: TemplateValue] {
        let rendersHome = toRender.contains { if case .home = $0.work { true } else { false } }
        var needed: [Product] = []
        var seen: Set<String> = []
        func need(_ product: Product) { if seen.insert(product.handle).inserted { needed.append(product) } }
        for planned in listingOutputs {
            guard case .listing(let index, let number) = planned.work else { continue }
            let collection = site.collections[index]
            for member in collection.indicesOnPage(number, pageSize: config.pageSize) { need(collection.product(member)) }
        }
        if rendersHome { site.plan.newest.forEach(need) }
        return try await CardRenderer(models: site.models, theme: inputs.theme).render(needed, workers: workers)
    }

    /// The home page, the collections index, content pages, 404, robots.txt, the feeds (when
    /// their tasks are done), static and image files, the site's marker.
    /// `cards`: the listing stage's, the newest products' among them when the home page is rendered.
    func renderTheRest(_ toRender: [PlannedOutput], _ site: PlannedSite, _ inputs: BuildInputs, cards: [String: TemplateValue],
                       feeds: Task<[String: FeedWork.Output], any Error>, tree: OutputTree, ledger: RenderLedger) async throws {
        let models = site.models, theme = inputs.theme, collections = site.collections, pages = inputs.pages
        for planned in toRender {
            switch planned.work {
            case .product, .listing:
                continue
            case .home:
                let newest = site.plan.newest.compactMap { cards[$0.handle] }
                try ledger.write(planned, theme.render(models.context(
                    page: models.page(title: config.title, description: config.tagline, path: "/"),
                    extra: ["products": .list(newest), "collections": .list(site.departments.map { .fields($0) })]), template: "home"))
            case .collectionsIndex:
                try ledger.write(planned, theme.render(models.context(
                    page: models.page(title: "Collections", description: "Every collection of \(config.title).", path: "/collections/"),
                    extra: ["collections": .list(collections.map { .fields(models.collectionLink($0)) })]), template: "collections"))
            case .content(let index):
                let page = pages[index]
                var pageModel = models.page(title: page.title, description: page.description, path: "/\(page.slug)/")
                pageModel["content"] = .text(page.html)
                try ledger.write(planned, theme.render(models.context(page: pageModel), template: "page"))
            case .notFound:
                try ledger.write(planned, theme.render(models.context(
                    page: models.page(title: "Page not found", description: "", path: "/404.html")), template: "404"))
            case .sitemap, .atom, .merchant, .search:
                switch try await feeds.value[planned.path] {
                case .rendered(let page):
                    try page.html.withUnsafeBytes {
                        try tree.write(planned.path, digest: planned.digest, bytes: $0, compressed: page.compressed)
                    }
                    ledger.record(planned.path)
                case .written(let file):
                    ledger.recordWritten(planned, file)
                    ledger.segmentsReused += file.segmentsReused
                case nil:
                    throw BuildError(.plan, file: planned.path, "the plan and the feeds rendered disagree")
                }
            case .robots:
                try ledger.write(planned, Sitemap.robots(urls: models.urls))
            case .staticFile(let source, let relative):
                if let contents = inputs.assets.fingerprinted[relative] {
                    try contents.bytes.withUnsafeBytes { try tree.write(planned.path, digest: planned.digest, bytes: $0) }
                } else {
                    try tree.copy(from: source, to: planned.path, digest: planned.digest)
                }
                ledger.record(planned.path)
            case .imageFile(let source):
                try tree.link(from: source, to: planned.path, digest: planned.digest)
                ledger.record(planned.path)
            case .marker:
                try ledger.write(planned, OutputTree.markerText)
            case .gitKeep:
                try ledger.write(planned, "")
            }
        }
    }
}
