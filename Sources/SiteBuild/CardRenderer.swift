import ShopCore

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
