import Foundation
import Logging
import ShopCore
import ShopStore

/// `ishop build`: catalog + content + theme -> a complete static site in the publish folder.
///
/// Stages, each named in its errors: config, catalog (one read transaction), content, theme,
/// render (into a staging folder), publish (one atomic swap). Nothing reaches the published
/// folder unless every stage succeeded.
public struct SiteBuilder {
    public struct Report: Sendable, Equatable {
        public var products = 0
        public var contentPages = 0
        public var pagesWritten = 0
        public var staticFiles = 0
        public var bytesWritten = 0
        public var output = ""
    }

    /// A step of progress for the terminal: what is being done, how far along.
    public struct Progress: Sendable {
        public var stage: BuildError.Stage
        public var done: Int
        public var total: Int
    }

    public let config: SiteConfig
    public let store: any Store
    public var logger: Logger

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
        logger.info("build planned", metadata: [
            "products": "\(products.count)", "pages": "\(pages.count)", "theme": "\(config.theme)", "output": "\(output)",
        ])

        let navigation = pages.filter(\.menu).sorted { ($0.weight, $0.title) < ($1.weight, $1.title) }
        let assets = try FingerprintedAssets(staticFiles: theme.staticFiles)
        let models = PageModels(config: config, navigation: navigation, stylesheet: assets.url(of: "css/shop.css") ?? "")

        let tree = try OutputTree(publishPath: output)
        let filesBeforePages = tree.filesWritten
        do {
            let total = products.count + pages.count + 2
            var done = 0
            func step() {
                done += 1
                if done % 200 == 0 || done == total { progress(Progress(stage: .render, done: done, total: total)) }
            }

            try tree.write("index.html", theme.render(models.context(
                page: models.page(title: config.title, description: config.tagline, path: "/"),
                extra: ["products": products.map(models.card)]), template: "home"))
            step()

            for product in products {
                let path = PageModels.productPath(product)
                let title = product.seoTitle.isEmpty ? product.title : product.seoTitle
                let html = try theme.render(models.context(
                    page: models.page(title: title, description: models.description(of: product), path: path),
                    extra: ["product": models.product(product)]), template: "product")
                try tree.write("products/\(product.handle)/index.html", html)
                step()
            }

            for page in pages {
                let path = "/\(page.slug)/"
                var pageModel = models.page(title: page.title, description: page.description, path: path)
                pageModel["content"] = page.html
                try tree.write("\(page.slug)/index.html", theme.render(models.context(page: pageModel), template: "page"))
                step()
            }

            try tree.write("404.html", theme.render(models.context(
                page: models.page(title: "Page not found", description: "", path: "/404.html")), template: "404"))
            step()
            let pagesWritten = tree.filesWritten - filesBeforePages

            for (relative, source) in theme.staticFiles.sorted(by: { $0.key < $1.key }) {
                if let contents = assets.fingerprinted[relative] {
                    try contents.bytes.withUnsafeBytes { try tree.write(contents.path, bytes: $0) }
                } else {
                    try tree.copy(from: source, to: relative)
                }
            }
            let report = Report(
                products: products.count, contentPages: pages.count, pagesWritten: pagesWritten,
                staticFiles: theme.staticFiles.count, bytesWritten: tree.bytesWritten, output: output)
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
