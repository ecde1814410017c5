import ShopCore

struct ListingPageWork: Sendable {
    let page: NumberedCollectionPage
    let path: String
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
