import Foundation
import ShopCore

/// Absolute addresses of the shop's pages and images, for whatever leaves the site: canonical
/// links, Open Graph, JSON-LD, sitemaps and feeds. Links inside pages stay root-relative.
struct SiteURLs: Sendable {
    /// The published site's address, ending in "/".
    let base: String
    /// Path characters that may stand in a URL as they are. "%" stays, so an image path that is
    /// already percent-encoded is not encoded twice; "?" and "#" stay for image URLs with a query.
    private let allowed: CharacterSet

    init(baseURL: URL) {
        let text = baseURL.absoluteString
        base = text.hasSuffix("/") ? text : text + "/"
        var allowed = CharacterSet.urlPathAllowed
        allowed.insert(charactersIn: "%?#")
        self.allowed = allowed
    }

    /// A page's address as HTML writes it (`<link rel="canonical">`, og:url): the path as it is.
    func page(_ path: String) -> String {
        base + path.drop(while: { $0 == "/" })
    }

    /// A page's address with every character outside a URL path percent-encoded, as sitemaps
    /// require and feed readers expect: a handle may be "café-noir".
    func encoded(_ path: String) -> String {
        let relative = String(path.drop(while: { $0 == "/" }))
        // Handles and slugs are plain ASCII: no need to go through Foundation for them (a
        // build encodes tens of thousands of addresses for its sitemap and feeds).
        if relative.utf8.allSatisfy(Self.isPlainPathByte) { return base + relative }
        return base + (relative.addingPercentEncoding(withAllowedCharacters: allowed) ?? relative)
    }

    /// Letters, digits and `-._~/%?#`: bytes that stand in a URL path (as this type allows) as they are.
    static func isPlainPathByte(_ byte: UInt8) -> Bool {
        switch byte {
        case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "0")...UInt8(ascii: "9"),
             UInt8(ascii: "-"), UInt8(ascii: "."), UInt8(ascii: "_"), UInt8(ascii: "~"), UInt8(ascii: "/"),
             UInt8(ascii: "%"), UInt8(ascii: "?"), UInt8(ascii: "#"):
            true
        default:
            false
        }
    }

    /// An image's absolute URL: remote images as they are, paths on the shop's own address.
    /// A source with any other scheme (data:, javascript:) has no place in a feed: nil.
    func image(_ src: String) -> String? {
        let lower = src.lowercased()
        if lower.hasPrefix("https://") || lower.hasPrefix("http://") { return src }
        if src.hasPrefix("//") { return (URL(string: base)?.scheme ?? "https") + ":" + src }
        let firstSlash = src.firstIndex(of: "/") ?? src.endIndex
        if src[..<firstSlash].contains(":") || src.isEmpty { return nil }
        return encoded(src)
    }
}

/// The day a build is dated: sitemaps' lastmod, the feeds' updated, the footer's year.
///
/// The Product model carries no modification time, so every URL gets the build's day. A day and
/// not an instant: two builds of the same catalog on the same day (SQLite and PostgreSQL, say)
/// are byte for byte the same.
struct BuildDay: Sendable {
    let year: Int
    /// "2026-03-14", in UTC.
    let date: String
    /// "2026-03-14T00:00:00Z": RFC 3339, as Atom wants.
    let timestamp: String

    init(_ instant: Date) {
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = TimeZone(secondsFromGMT: 0) ?? calendar.timeZone
        let parts = calendar.dateComponents([.year, .month, .day], from: instant)
        let year = parts.year ?? 1970
        self.year = year
        func padded(_ number: Int, width: Int) -> String {
            let digits = String(number)
            return String(repeating: "0", count: max(0, width - digits.count)) + digits
        }
        let day = "\(padded(year, width: 4))-\(padded(parts.month ?? 1, width: 2))-\(padded(parts.day ?? 1, width: 2))"
        date = day
        timestamp = day + "T00:00:00Z"
    }
}
