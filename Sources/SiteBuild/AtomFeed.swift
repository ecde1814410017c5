import ShopCore

/// /feed.xml: the newest products as an Atom 1.0 feed (RFC 4287), for feed readers and for
/// anyone who wants to follow what the shop adds.
enum AtomFeed {
    static let path = "feed.xml"
    static let entryCount = 20

    /// `products` in the store's order, which is the order they were added: the newest come last.
    static func xml(products: [Product], config: SiteConfig, urls: SiteURLs, updated: String) -> String {
        let title = XMLText.escaped(config.title)
        let stamp = XMLText.escaped(updated)
        var xml = """
            <?xml version="1.0" encoding="UTF-8"?>
            <feed xmlns="http://www.w3.org/2005/Atom" xml:lang="\(XMLText.escaped(config.language))">
            <title>\(title)</title>

            """
        if !config.tagline.isEmpty { xml += "<subtitle>\(XMLText.escaped(config.tagline))</subtitle>\n" }
        xml += """
            <id>\(XMLText.escaped(urls.base))</id>
            <link rel="self" type="application/atom+xml" href="\(XMLText.escaped(urls.encoded(path)))"/>
            <link rel="alternate" type="text/html" href="\(XMLText.escaped(urls.base))"/>
            <updated>\(stamp)</updated>
            <author><name>\(title)</name></author>

            """
        for product in products.suffix(entryCount).reversed() {
            let url = XMLText.escaped(urls.encoded(PageModels.productPath(product)))
            xml += """
                <entry>
                <title>\(XMLText.escaped(product.title))</title>
                <link rel="alternate" type="text/html" href="\(url)"/>
                <id>\(url)</id>
                <updated>\(stamp)</updated>

                """
            let summary = PlainText.fromHTML(product.bodyHTML)
            if !summary.isEmpty { xml += "<summary>\(XMLText.escaped(summary))</summary>\n" }
            xml += "</entry>\n"
        }
        xml += "</feed>\n"
        return xml
    }
}
