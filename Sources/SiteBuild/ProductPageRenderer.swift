import ShopCore

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
