import Foundation
import ShopTestSupport
import SiteBuild
import Testing

@Suite("ContentPage: front matter and Markdown pages")
struct ContentPageTests {
    /// Parses `text` as content/<name>.md would be.
    func parse(_ text: String, name: String = "page") throws -> ContentPage {
        try ContentPage.parse(text, file: "content/\(name).md", defaultSlug: name)
    }

    /// The BuildError that parsing `text` throws.
    func parseError(_ text: String, name: String = "page") throws -> BuildError {
        try #require(throws: BuildError.self) { try parse(text, name: name) }
    }

    @Test("every front-matter key is read")
    func frontMatter() throws {
        let page = try parse("""
            ---
            title: Shipping & returns
            description: Delivery times and rates.
            slug: delivery
            menu: true
            weight: 20
            draft: true
            date: 2026-11-25
            ---

            Every print ships **within three days**.
            """, name: "shipping")
        #expect(page.file == "content/shipping.md")
        #expect(page.title == "Shipping & returns")
        #expect(page.description == "Delivery times and rates.")
        #expect(page.slug == "delivery")
        #expect(page.menu)
        #expect(page.weight == 20)
        #expect(page.draft)
        let date = try #require(page.date)
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = try #require(TimeZone(identifier: "UTC"))
        let parts = calendar.dateComponents([.year, .month, .day], from: date)
        #expect(parts.year == 2026 && parts.month == 11 && parts.day == 25)
        #expect(page.html.contains("<strong>within three days</strong>"))
        #expect(!page.html.contains("title:"), "the front matter is not part of the body")
    }

    @Test("no front matter: defaults come from the file name")
    func noFrontMatter() throws {
        let page = try parse("# Hello\n\nJust text.\n", name: "hello")
        #expect(page.slug == "hello")
        #expect(page.title == "hello")
        #expect(page.description == "")
        #expect(!page.draft)
        #expect(!page.menu)
        #expect(page.weight == 0)
        #expect(page.date == nil)
        #expect(page.html.contains("<h1>Hello</h1>"))
        #expect(page.html.contains("<p>Just text.</p>"))
    }

    @Test("front matter that sets only some keys keeps the defaults for the rest")
    func partialFrontMatter() throws {
        let page = try parse("---\ndescription: Only this.\n---\nBody\n", name: "partial")
        #expect(page.title == "partial")
        #expect(page.slug == "partial")
        #expect(page.description == "Only this.")
        #expect(page.html == "<p>Body</p>\n")
    }

    @Test("empty front matter is allowed")
    func emptyFrontMatter() throws {
        let page = try parse("---\n---\nBody\n", name: "empty")
        #expect(page.title == "empty")
        #expect(page.html == "<p>Body</p>\n")
    }

    @Test("a byte order mark before the front matter is accepted")
    func byteOrderMark() throws {
        let page = try parse("\u{FEFF}---\ntitle: With BOM\n---\nBody\n", name: "bom")
        #expect(page.title == "With BOM")
        #expect(page.html == "<p>Body</p>\n")
    }

    /// In Swift, "\r\n" is one Character, so searching a CRLF text for the Character "\n" finds
    /// nothing. Run in a child process: if parse traps, only the child dies.
    @Test("front matter with CRLF line ends (a file saved on Windows) parses")
    func windowsLineEnds() async {
        await #expect(processExitsWith: .success) {
            let page = try ContentPage.parse(
                "---\r\ntitle: From Windows\r\nweight: 3\r\n---\r\nBody\r\n", file: "content/windows.md", defaultSlug: "windows")
            guard page.title == "From Windows", page.weight == 3, page.html.contains("Body"), !page.html.contains("---") else {
                exit(1)
            }
        }
    }

    @Test("a closing --- at the very end of the file, without a newline")
    func closingAtEnd() throws {
        let page = try parse("---\ntitle: Short\n---", name: "short")
        #expect(page.title == "Short")
        #expect(page.html == "")
    }

    @Test("unclosed front matter is an error on line 1")
    func unclosedFrontMatter() throws {
        let error = try parseError("---\ntitle: Never closed\n\nBody text\n", name: "open")
        #expect(error.stage == .content)
        #expect(error.file == "content/open.md")
        #expect(error.line == 1)
        #expect(error.message.contains("---"))
    }

    @Test("an unknown key is named, with its line in the file")
    func unknownKey() throws {
        // Line 1 is the opening ---, so the second key is on line 3 of the file.
        let error = try parseError("---\ntitle: About\ncolour: red\n---\nBody\n", name: "about")
        #expect(error.stage == .content)
        #expect(error.file == "content/about.md")
        #expect(error.line == 3)
        #expect(error.message.contains("colour"))
        #expect(error.description.contains("content/about.md:3:"))
    }

    @Test("an unknown key whose value is a list on the next lines is reported on the key's own line")
    func unknownKeyWithListValue() throws {
        // Hugo's front matter has `tags:` lists; ours does not, so this is a likely mistake.
        let error = try parseError("---\ntitle: About\ntags:\n  - prints\n  - studio\n---\nBody\n", name: "about")
        #expect(error.message.contains("tags"))
        #expect(error.line == 3, "the key tags: is on line 3; got line \(error.line.map(String.init) ?? "nil")")
    }

    @Test("a value of the wrong type is named, with its line")
    func wrongType() throws {
        let error = try parseError("---\ntitle: About\nweight: heavy\n---\n", name: "about")
        #expect(error.stage == .content)
        #expect(error.line == 3)
        #expect(error.message.contains("weight"))
        #expect(error.message.contains("heavy"))

        let flag = try parseError("---\nmenu: sometimes\n---\n", name: "about")
        #expect(flag.line == 2)
        #expect(flag.message.contains("menu"))
    }

    @Test("YAML that does not parse is an error with a line in the file")
    func invalidYAML() throws {
        let error = try parseError("---\ntitle: About\ndescription: [unclosed\n---\n", name: "about")
        #expect(error.stage == .content)
        #expect(error.file == "content/about.md")
        let line = try #require(error.line)
        #expect((2...5).contains(line))
    }

    @Test("slugs the shop itself uses are refused", arguments: ["products", "api", "css", "404", "index"])
    func reservedSlug(slug: String) throws {
        let error = try parseError("---\nslug: \(slug)\n---\nBody\n", name: "mine")
        #expect(error.stage == .content)
        #expect(error.file == "content/mine.md")
        #expect(error.message.contains("\"\(slug)\""))
    }

    @Test("a file named like a reserved slug is refused too")
    func reservedFileName() throws {
        let error = try parseError("Body\n", name: "products")
        #expect(error.message.contains("products"))
    }

    @Test("slugs that are not one lower-case path segment are refused", arguments: ["a/b", "../etc", "About", "a b", "a.html"])
    func invalidSlug(slug: String) throws {
        let error = try parseError("---\nslug: \"\(slug)\"\n---\nBody\n", name: "mine")
        #expect(error.stage == .content)
        #expect(error.message.contains(slug))
    }

    @Test("Unicode in front matter and body survives")
    func unicode() throws {
        let page = try parse("---\ntitle: Café 日本\ndescription: Grüße, 日本語\nslug: 日本\n---\nÉté à 東京 — ~~é~~\n", name: "japan")
        #expect(page.title == "Café 日本")
        #expect(page.description == "Grüße, 日本語")
        #expect(page.slug == "日本")
        #expect(page.html.contains("Été à 東京"))
        #expect(page.html.contains("<del>é</del>"))
    }

    // MARK: loadAll

    @Test("loadAll reads every .md of a folder, sorted by file name, and nothing else")
    func loadAll() throws {
        let folder = try TemporaryFolder("content")
        defer { folder.remove() }
        try Data("---\ntitle: B\n---\nB body\n".utf8).write(to: URL(fileURLWithPath: folder.file("b.md")))
        try Data("A body\n".utf8).write(to: URL(fileURLWithPath: folder.file("a.md")))
        try Data("not a page".utf8).write(to: URL(fileURLWithPath: folder.file("notes.txt")))

        let pages = try ContentPage.loadAll(directory: folder.path, displayRoot: "content")
        #expect(pages.map(\.file) == ["content/a.md", "content/b.md"])
        #expect(pages.map(\.slug) == ["a", "b"])
        #expect(pages.map(\.title) == ["a", "B"])
    }

    @Test("loadAll of a folder that does not exist is no pages")
    func loadAllMissingFolder() throws {
        let folder = try TemporaryFolder("content")
        defer { folder.remove() }
        #expect(try ContentPage.loadAll(directory: folder.file("nope"), displayRoot: "content").isEmpty)
    }

    @Test("two pages with the same slug are an error naming both files")
    func duplicateSlug() throws {
        let folder = try TemporaryFolder("content")
        defer { folder.remove() }
        try Data("---\nslug: same\n---\nA\n".utf8).write(to: URL(fileURLWithPath: folder.file("a.md")))
        try Data("---\nslug: same\n---\nB\n".utf8).write(to: URL(fileURLWithPath: folder.file("b.md")))

        let error = try #require(throws: BuildError.self) {
            try ContentPage.loadAll(directory: folder.path, displayRoot: "content")
        }
        #expect(error.stage == .content)
        #expect(error.file == "content/b.md")
        #expect(error.message.contains("content/a.md"))
        #expect(error.message.contains("same"))
    }

    @Test("a file's default slug may collide with another page's explicit slug")
    func duplicateSlugFromFileName() throws {
        let folder = try TemporaryFolder("content")
        defer { folder.remove() }
        try Data("---\nslug: faq\n---\nA\n".utf8).write(to: URL(fileURLWithPath: folder.file("a.md")))
        try Data("B\n".utf8).write(to: URL(fileURLWithPath: folder.file("faq.md")))
        #expect(throws: BuildError.self) { try ContentPage.loadAll(directory: folder.path, displayRoot: "content") }
    }

    @Test("a page that is not UTF-8 is an error naming the file")
    func notUTF8() throws {
        let folder = try TemporaryFolder("content")
        defer { folder.remove() }
        try Data([0x2D, 0x2D, 0x2D, 0x0A, 0xFF, 0xFE, 0x0A]).write(to: URL(fileURLWithPath: folder.file("bad.md")))
        let error = try #require(throws: BuildError.self) {
            try ContentPage.loadAll(directory: folder.path, displayRoot: "content")
        }
        #expect(error.file == "content/bad.md")
    }
}
