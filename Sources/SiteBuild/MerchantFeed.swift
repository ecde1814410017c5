import ShopCore

/// /merchant-feed.xml: the catalog for Google Merchant Center (Shopping ads and free listings), as
/// RSS 2.0 with Google's `g:` namespace. One item per variant, grouped by `g:item_group_id`, since
/// Merchant Center sells variants, not products.
enum MerchantFeed {
    static let path = "merchant-feed.xml"
    /// Merchant Center refuses longer titles and descriptions; cut rather than lose the item.
    static let maxTitleLength = 150
    static let maxDescriptionLength = 5000

    /// Writes the feed into `xml` as it goes: 3 KB per product, never held whole. `imageURLs`:
    /// catalog source -> the shop's own copy, where the image stage made one.
    static func write(
        products: [Product], config: SiteConfig, urls: SiteURLs, imageURLs: [String: String], to xml: StreamingFile
    ) throws {
        func imageURL(_ src: String) -> String? { imageURLs[src] ?? urls.image(src) }
        let currency = config.currency
        try xml.append("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<rss version=\"2.0\" xmlns:g=\"http://base.google.com/ns/1.0\">\n<channel>\n<title>")
        try xml.appendXML(config.title)
        try xml.append("</title>\n<link>")
        try xml.appendXML(urls.base)
        try xml.append("</link>\n<description>")
        try xml.appendXML(config.tagline.isEmpty ? config.title : config.tagline)
        try xml.append("</description>\n")
        for product in products where product.published {
            let link = XMLText.escaped(urls.encoded(PageModels.productPath(product)))
            let text = PlainText.oneLine(PlainText.fromHTML(product.bodyHTML))
            // Google requires a description; the title is better than losing the item.
            let description = XMLText.escaped(cut(text.isEmpty ? product.title : text, to: maxDescriptionLength))
            let productImage = product.images.first.flatMap { imageURL($0.src) }
            let group = XMLText.escaped(product.handle)
            let brand = product.vendor.isEmpty ? nil : XMLText.escaped(product.vendor)
            let type = product.productType.isEmpty ? nil : XMLText.escaped(product.productType)
            for variant in product.variants {
                let title = variant.options.isEmpty || variant.title == Product.defaultVariantTitle
                    ? product.title : "\(product.title) – \(variant.title)"
                try xml.append("<item>\n<g:id>")
                try xml.appendXML(variant.sku)
                try xml.append("</g:id>\n<g:item_group_id>")
                try xml.append(group)
                try xml.append("</g:item_group_id>\n<title>")
                try xml.appendXML(cut(title, to: maxTitleLength))
                try xml.append("</title>\n<description>")
                try xml.append(description)
                try xml.append("</description>\n<link>")
                try xml.append(link)
                try xml.append("</link>\n")
                let image = variant.imageSrc.isEmpty ? productImage : imageURL(variant.imageSrc) ?? productImage
                if let image {
                    try xml.append("<g:image_link>")
                    try xml.appendXML(image)
                    try xml.append("</g:image_link>\n")
                }
                // On sale, Google wants the regular price in g:price and what is paid in g:sale_price.
                if let compareAt = variant.compareAtCents, variant.isOnSale {
                    try xml.append("<g:price>\(price(compareAt, currency))</g:price>\n<g:sale_price>\(price(variant.priceCents, currency))</g:sale_price>\n")
                } else {
                    try xml.append("<g:price>\(price(variant.priceCents, currency))</g:price>\n")
                }
                try xml.append("<g:availability>\(StockState(variant).merchantCenter)</g:availability>\n")
                if let brand {
                    try xml.append("<g:brand>")
                    try xml.append(brand)
                    try xml.append("</g:brand>\n")
                }
                try xml.append("<g:condition>new</g:condition>\n")
                if let type {
                    try xml.append("<g:product_type>")
                    try xml.append(type)
                    try xml.append("</g:product_type>\n")
                }
                try xml.append("</item>\n")
            }
        }
        try xml.append("</channel>\n</rss>\n")
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
