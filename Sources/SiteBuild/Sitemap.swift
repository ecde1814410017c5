/// sitemap.xml (sitemaps.org 0.9) and robots.txt.
///
/// A sitemap file may list at most 50,000 URLs. Up to that, sitemap.xml lists every page; past it,
/// the pages go into sitemap-1.xml, sitemap-2.xml, … and sitemap.xml becomes the index of those,
/// so robots.txt and search consoles always point at the same address.
enum Sitemap {
    struct File {
        /// Relative to the site root: "sitemap.xml", "sitemap-2.xml".
        var path: String
        var xml: String
    }

    static let header = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
    static let namespace = "http://www.sitemaps.org/schemas/sitemap/0.9"

    /// The sitemap files for `pagePaths` (root-relative, "/products/x/"), `limit` URLs per file.
    static func files(pagePaths: [String], lastModified: String, urls: SiteURLs, limit: Int) -> [File] {
        let limit = max(1, limit)
        let lastmod = XMLText.escaped(lastModified)
        if pagePaths.count <= limit {
            return [File(path: "sitemap.xml", xml: urlSet(pagePaths[...], lastmod: lastmod, urls: urls))]
        }
        var files: [File] = []
        var index = "\(header)<sitemapindex xmlns=\"\(namespace)\">\n"
        var start = 0
        while start < pagePaths.count {
            let end = min(pagePaths.count, start + limit)
            let path = "sitemap-\(files.count + 1).xml"
            files.append(File(path: path, xml: urlSet(pagePaths[start..<end], lastmod: lastmod, urls: urls)))
            index += "<sitemap><loc>\(XMLText.escaped(urls.encoded(path)))</loc><lastmod>\(lastmod)</lastmod></sitemap>\n"
            start = end
        }
        index += "</sitemapindex>\n"
        files.append(File(path: "sitemap.xml", xml: index))
        return files
    }

    static func urlSet(_ pagePaths: ArraySlice<String>, lastmod: String, urls: SiteURLs) -> String {
        var xml = "\(header)<urlset xmlns=\"\(namespace)\">\n"
        xml.reserveCapacity(pagePaths.count * 120)
        for path in pagePaths {
            xml += "<url><loc>\(XMLText.escaped(urls.encoded(path)))</loc><lastmod>\(lastmod)</lastmod></url>\n"
        }
        xml += "</urlset>\n"
        return xml
    }

    /// Every crawler may read every page; the sitemap says which pages there are.
    static func robots(urls: SiteURLs) -> String {
        "User-agent: *\nAllow: /\nSitemap: \(urls.encoded("/sitemap.xml"))\n"
    }
}
