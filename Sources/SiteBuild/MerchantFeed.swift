import Foundation
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
    /// catalog source -> the shop's own copy, where the image stage made one. The items of a window
    /// of products are made on every core, then written in catalog order: the feed is rewritten
    /// whole whenever any product changes, and on one core it was most of a one-product rebuild.
    /// `keys`: each product's digest; a product whose items `reuse` holds (from the live feed) is
    /// not made again. Returns where each product's items landed, for the next build.
    @discardableResult
    static func write(
        products: [Product], config: SiteConfig, urls: SiteURLs, imageURLs: [String: String], to xml: StreamingFile, workers: Int,
        keys: [String]? = nil, reuse: FeedFragments? = nil
    ) throws -> FragmentRecorder {
        try xml.append("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<rss version=\"2.0\" xmlns:g=\"http://base.google.com/ns/1.0\">\n<channel>\n<title>")
        try xml.appendXML(config.title)
        try xml.append("</title>\n<link>")
        try xml.appendXML(urls.base)
        try xml.append("</link>\n<description>")
        try xml.appendXML(config.tagline.isEmpty ? config.title : config.tagline)
        try xml.append("</description>\n")
        var recorder = FragmentRecorder(expected: keys == nil ? 0 : products.count)
        let chunk = 128
        let window = chunk * max(1, workers) * 2
        for start in stride(from: 0, to: products.count, by: window) {
            let end = min(start + window, products.count)
            // The products whose items the live feed does not have are made, on every core.
            var found: [Range<Int>?] = Array(repeating: nil, count: end - start)
            if let keys, let reuse {
                for index in start..<end { found[index - start] = reuse.range(of: keys[index], at: index) }
            }
            let missing = (start..<end).filter { products[$0].published && found[$0 - start] == nil }
            let made = WorkerSlots<[UInt8]>(count: missing.count, repeating: [])
            DispatchQueue.concurrentPerform(iterations: (missing.count + chunk - 1) / chunk) { part in
                for slot in (part * chunk)..<min(missing.count, (part + 1) * chunk) {
                    var out: [UInt8] = []
                    out.reserveCapacity(3072)
                    items(of: products[missing[slot]], currency: config.currency, urls: urls, imageURLs: imageURLs, into: &out)
                    made.slots[slot] = out
                }
            }
            // Then everything in catalog order. Pieces that lie one after another in the live feed
            // (every unchanged product between two changed ones) are copied as one range.
            var run: Range<Int>?
            func copyRun() throws {
                if let pending = run, let reuse { try xml.copy(from: reuse.descriptor, range: pending) }
                run = nil
            }
            var slot = 0
            for index in start..<end where products[index].published {
                if slot < missing.count, missing[slot] == index {
                    try copyRun()
                    if let keys { recorder.record(key: keys[index], offset: xml.offset, length: made.slots[slot].count) }
                    try xml.append(bytes: made.slots[slot])
                    slot += 1
                } else if let keys, let piece = found[index - start] {
                    if let pending = run, pending.upperBound == piece.lowerBound {
                        run = pending.lowerBound..<piece.upperBound
                    } else {
                        try copyRun()
                        run = piece
                    }
                    recorder.record(key: keys[index], offset: xml.offset + (run?.count ?? 0) - piece.count, length: piece.count)
                }
            }
            try copyRun()
        }
        try xml.append("</channel>\n</rss>\n")
        return recorder
    }

    /// What a product's items depend on besides the product: a feed index made under another
    /// frame is not used.
    static func frame(config: SiteConfig, urls: SiteURLs) -> String {
        var digest = InputDigest("merchant-items-\(BuildManifest.formatVersion)")
        digest.add([urls.base, config.currency.code])
        return digest.finish()
    }

    /// One `<item>` per variant of `product`, appended to `out`.
    static func items(of product: Product, currency: Currency, urls: SiteURLs, imageURLs: [String: String], into out: inout [UInt8]) {
        func imageURL(_ src: String) -> String? { imageURLs[src] ?? urls.image(src) }
        func append(_ text: String) { out.append(contentsOf: text.utf8) }
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
            append("<item>\n<g:id>")
            append(XMLText.escaped(variant.sku))
            append("</g:id>\n<g:item_group_id>")
            append(group)
            append("</g:item_group_id>\n<title>")
            append(XMLText.escaped(cut(title, to: maxTitleLength)))
            append("</title>\n<description>")
            append(description)
            append("</description>\n<link>")
            append(link)
            append("</link>\n")
            let image = variant.imageSrc.isEmpty ? productImage : imageURL(variant.imageSrc) ?? productImage
            if let image {
                append("<g:image_link>")
                append(XMLText.escaped(image))
                append("</g:image_link>\n")
            }
            // On sale, Google wants the regular price in g:price and what is paid in g:sale_price.
            if let compareAt = variant.compareAtCents, variant.isOnSale {
                append("<g:price>\(price(compareAt, currency))</g:price>\n<g:sale_price>\(price(variant.priceCents, currency))</g:sale_price>\n")
            } else {
                append("<g:price>\(price(variant.priceCents, currency))</g:price>\n")
            }
            append("<g:availability>\(StockState(variant).merchantCenter)</g:availability>\n")
            if let brand {
                append("<g:brand>")
                append(brand)
                append("</g:brand>\n")
            }
            append("<g:condition>new</g:condition>\n")
            if let type {
                append("<g:product_type>")
                append(type)
                append("</g:product_type>\n")
            }
            append("</item>\n")
        }
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
