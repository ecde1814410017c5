import ShopCore

/// /merchant-feed.xml: the catalog for Google Merchant Center (Shopping ads and free listings), as
/// RSS 2.0 with Google's `g:` namespace. One item per variant, grouped by `g:item_group_id`, since
/// Merchant Center sells variants, not products.
enum MerchantFeed {
    static let path = "merchant-feed.xml"
    /// Merchant Center refuses longer titles and descriptions; cut rather than lose the item.
    static let maxTitleLength = 150
    static let maxDescriptionLength = 5000

    static func xml(products: [Product], config: SiteConfig, urls: SiteURLs) -> String {
        let currency = config.currency
        var xml = """
            <?xml version="1.0" encoding="UTF-8"?>
            <rss version="2.0" xmlns:g="http://base.google.com/ns/1.0">
            <channel>
            <title>\(XMLText.escaped(config.title))</title>
            <link>\(XMLText.escaped(urls.base))</link>
            <description>\(XMLText.escaped(config.tagline.isEmpty ? config.title : config.tagline))</description>

            """
        for product in products where product.published {
            let link = XMLText.escaped(urls.encoded(PageModels.productPath(product)))
            let text = PlainText.oneLine(PlainText.fromHTML(product.bodyHTML))
            // Google requires a description; the title is better than losing the item.
            let description = XMLText.escaped(cut(text.isEmpty ? product.title : text, to: maxDescriptionLength))
            let productImage = product.images.first.flatMap { urls.image($0.src) }
            for variant in product.variants {
                let title = variant.options.isEmpty || variant.title == Product.defaultVariantTitle
                    ? product.title : "\(product.title) – \(variant.title)"
                xml += """
                    <item>
                    <g:id>\(XMLText.escaped(variant.sku))</g:id>
                    <g:item_group_id>\(XMLText.escaped(product.handle))</g:item_group_id>
                    <title>\(XMLText.escaped(cut(title, to: maxTitleLength)))</title>
                    <description>\(description)</description>
                    <link>\(link)</link>

                    """
                let image = variant.imageSrc.isEmpty ? productImage : urls.image(variant.imageSrc) ?? productImage
                if let image { xml += "<g:image_link>\(XMLText.escaped(image))</g:image_link>\n" }
                // On sale, Google wants the regular price in g:price and what is paid in g:sale_price.
                if let compareAt = variant.compareAtCents, variant.isOnSale {
                    xml += "<g:price>\(price(compareAt, currency))</g:price>\n"
                    xml += "<g:sale_price>\(price(variant.priceCents, currency))</g:sale_price>\n"
                } else {
                    xml += "<g:price>\(price(variant.priceCents, currency))</g:price>\n"
                }
                xml += "<g:availability>\(StockState(variant).merchantCenter)</g:availability>\n"
                if !product.vendor.isEmpty { xml += "<g:brand>\(XMLText.escaped(product.vendor))</g:brand>\n" }
                xml += "<g:condition>new</g:condition>\n"
                if !product.productType.isEmpty {
                    xml += "<g:product_type>\(XMLText.escaped(product.productType))</g:product_type>\n"
                }
                xml += "</item>\n"
            }
        }
        xml += "</channel>\n</rss>\n"
        return xml
    }

    /// "42.99 EUR": Merchant Center's price format.
    static func price(_ minorUnits: Int, _ currency: Currency) -> String {
        "\(Money.decimalText(minorUnits, currency: currency)) \(currency.code)"
    }

    static func cut(_ text: String, to length: Int) -> String {
        // No more bytes than the limit means no more characters: skip counting graphemes.
        guard text.utf8.count > length else { return text }
        return text.count > length ? String(text.prefix(length - 1)) + "…" : text
    }
}
