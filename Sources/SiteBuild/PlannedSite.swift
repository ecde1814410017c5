import Foundation
import ShopCore

/// The plan stage's result: what every page of this build is made from (collections, the
/// models templates see, the image sets) and the plan itself, every output with the digest of
/// its inputs, which the live site's manifest is compared with.
struct PlannedSite {
    var collections: [ProductCollection]
    /// The shop's departments: collections of a product type. Tags are listed at /collections/.
    var departments: [[String: TemplateValue]]
    var models: PageModels
    var day: BuildDay
    var images: SiteBuilder.PreparedImages
    var plan: SitePlan
    /// The live site as it stands after planning (read again if another build published meanwhile).
    var live: LiveSite
}

extension SiteBuilder {
    func planSite(_ inputs: BuildInputs, output: String, clock: inout StageClock) async throws -> PlannedSite {
        let products = inputs.products, pages = inputs.pages, theme = inputs.theme, assets = inputs.assets
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
        let departments = collections.filter(\.isProductType).map { models.collectionLink($0) }

        // Rendered once, put into every page as it is: rendering them per page was most of a build.
        let fragmentContext = models.fragmentContext(collections: departments.map { .fields($0) })
        let header = try await inStage(.render) { try theme.renderText(fragmentContext, template: "header") }
        let footer = try await inStage(.render) { try theme.renderText(fragmentContext, template: "footer") }
        models.fragments = ["header": .text(header), "footer": .text(footer)]
        clock.lap("collections")

        let images = try await prepareImages(products: products, theme: theme)
        models.imageSets = images.sets
        clock.lap("images")

        let plan = try await inStage(.plan) {
            try SitePlan(
                products: products, collections: collections, pages: pages, theme: theme, assets: assets, models: models,
                // Every asset URL a page may name goes into the shared digest.
                fragments: [header, footer], stylesheet: stylesheet + " " + stockScript, day: day, sitemapLimit: sitemapLimit,
                hasGitKeep: access("\(output)/.gitkeep", F_OK) == 0, imageFiles: images.files, imageKeys: images.keys)
        }
        clock.lap("plan")
        let live = inputs.live.current(output)
        clock.lap("compare")
        return PlannedSite(collections: collections, departments: departments, models: models, day: day, images: images, plan: plan,
                           live: live)
    }
}
