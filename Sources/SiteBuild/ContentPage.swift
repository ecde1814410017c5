import Foundation
import ShopCore

/// A Markdown page from content/: YAML front matter between `---` lines, then GFM.
public struct ContentPage: Sendable, Equatable {
    public var file: String
    public var slug: String
    public var title: String
    public var description: String
    public var draft: Bool
    /// Listed in the site's navigation, ordered by `weight` then title.
    public var menu: Bool
    public var weight: Int
    public var date: Date?
    public var html: String

    /// URL path segments that belong to the shop itself; a page may not take them.
    public static let reservedSlugs: Set<String> = [
        "products", "collections", "api", "ws", "css", "js", "img", "images", "static", "index", "404",
        "sitemap", "feed", "search", "healthz", "readyz", "metrics",
    ]

    /// Reads every `*.md` directly in `directory` (none if the folder does not exist), sorted by file name.
    public static func loadAll(directory: String, displayRoot: String) throws -> [ContentPage] {
        let fileManager = FileManager.default
        var isDirectory: ObjCBool = false
        guard fileManager.fileExists(atPath: directory, isDirectory: &isDirectory), isDirectory.boolValue else { return [] }
        let names = try fileManager.contentsOfDirectory(atPath: directory).filter { $0.hasSuffix(".md") }.sorted()
        var pages: [ContentPage] = []
        var slugs: [String: String] = [:]
        for name in names {
            let path = (directory as NSString).appendingPathComponent(name)
            let display = (displayRoot as NSString).appendingPathComponent(name)
            guard let data = fileManager.contents(atPath: path) else {
                throw BuildError(.content, file: display, "cannot be read")
            }
            guard let text = String(data: data, encoding: .utf8) else {
                throw BuildError(.content, file: display, "is not UTF-8 text")
            }
            let page = try parse(text, file: display, defaultSlug: String(name.dropLast(3)))
            if let other = slugs[page.slug] {
                throw BuildError(.content, file: display, "has the slug \"\(page.slug)\", which \(other) has too")
            }
            slugs[page.slug] = display
            pages.append(page)
        }
        return pages
    }

    public static func parse(_ text: String, file: String, defaultSlug: String) throws -> ContentPage {
        // Files saved on Windows: "\r\n" is one Character in Swift, so normalise before looking for lines.
        let normalized = text.contains("\r") ? text.replacingOccurrences(of: "\r\n", with: "\n") : text
        var body = Substring(normalized)
        var meta: YAMLMapping?
        if body.hasPrefix("\u{FEFF}") { body = body.dropFirst() }
        if body.hasPrefix("---\n") {
            let afterOpening = body[body.index(after: body.firstIndex(of: "\n")!)...]
            // The front matter ends at the first line that is exactly "---".
            var cursor = afterOpening.startIndex
            var closing: Range<Substring.Index>?
            while cursor < afterOpening.endIndex {
                let lineEnd = afterOpening[cursor...].firstIndex(of: "\n") ?? afterOpening.endIndex
                let line = afterOpening[cursor..<lineEnd]
                if line == "---" {
                    closing = cursor..<(lineEnd < afterOpening.endIndex ? afterOpening.index(after: lineEnd) : lineEnd)
                    break
                }
                cursor = lineEnd < afterOpening.endIndex ? afterOpening.index(after: lineEnd) : lineEnd
            }
            guard let closing else {
                throw BuildError(.content, file: file, line: 1, "front matter starts here but has no closing --- line")
            }
            do {
                meta = try YAMLMapping.parse(String(afterOpening[..<closing.lowerBound]), file: file, lineOffset: 1)
            } catch let error as ConfigError {
                throw BuildError(.content, file: file, line: error.line, error.keyPath.isEmpty ? error.message : "\(error.keyPath): \(error.message)")
            }
            body = afterOpening[closing.upperBound...]
        }

        var page = ContentPage(file: file, slug: defaultSlug, title: defaultSlug, description: "", draft: false,
                               menu: false, weight: 0, date: nil, html: "")
        if let meta {
            do {
                page.title = try meta.string("title") ?? defaultSlug
                page.description = try meta.string("description") ?? ""
                page.slug = try meta.string("slug") ?? defaultSlug
                page.draft = try meta.bool("draft") ?? false
                page.menu = try meta.bool("menu") ?? false
                page.weight = try meta.int("weight") ?? 0
                page.date = try meta.date("date")
                try meta.rejectUnknownKeys()
            } catch let error as ConfigError {
                throw BuildError(.content, file: file, line: error.line, "front matter: \(error.keyPath): \(error.message)")
            }
        }
        guard Handle.isValid(page.slug) else {
            throw BuildError(.content, file: file, "slug \"\(page.slug)\" may hold only lower-case letters, digits, - and _ (rename the file or set slug:)")
        }
        guard !reservedSlugs.contains(page.slug) else {
            throw BuildError(.content, file: file, "slug \"\(page.slug)\" is taken by the shop's own pages; choose another")
        }
        page.html = Markdown.html(String(body))
        return page
    }
}
