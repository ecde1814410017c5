import CMarkGFM
import Foundation
import SiteBuild
import Testing

/// cmark-gfm keeps its extension registry in a global without a lock. All test targets run in
/// one process, so register through SiteBuild's own once-token rather than a second one here.
private let coreExtensionsRegistered: Void = { _ = Markdown.html("") }()

/// Renders `markdown` through the C API the way SiteBuild does, with the named syntax extensions.
private func renderHTML(_ markdown: String, extensions: [String], options: Int32 = CMARK_OPT_DEFAULT) throws -> String {
    _ = coreExtensionsRegistered
    let parser = try #require(cmark_parser_new(options))
    defer { cmark_parser_free(parser) }
    for name in extensions {
        let syntaxExtension = try #require(cmark_find_syntax_extension(name), "cmark-gfm has no extension named \(name)")
        #expect(cmark_parser_attach_syntax_extension(parser, syntaxExtension) != 0, "cannot attach \(name)")
    }
    markdown.withCString { cmark_parser_feed(parser, $0, markdown.utf8.count) }
    let document = try #require(cmark_parser_finish(parser))
    defer { cmark_node_free(document) }
    let rendered = try #require(cmark_render_html(document, options, cmark_parser_get_syntax_extensions(parser)))
    defer { free(rendered) }
    return String(cString: rendered)
}

@Suite("cmark-gfm system library")
struct CMarkGFMTests {
    static let gfmExtensions = ["table", "strikethrough", "autolink", "tasklist"]

    @Test("the four GFM extensions are found, attach, and render")
    func gfmExtensionsRender() throws {
        let markdown = """
            | Size | Price |
            |------|------:|
            | A4   | 24.00 |

            ~~old price~~ new price

            Visit www.example.com for more.

            - [x] done
            - [ ] not yet
            """
        let html = try renderHTML(markdown, extensions: Self.gfmExtensions)

        #expect(html.contains("<table>"))
        #expect(html.contains("<th>Size</th>"))
        #expect(html.contains("<td>A4</td>"))
        #expect(html.contains(#"<td align="right">24.00</td>"#))
        #expect(html.contains("<del>old price</del>"))
        #expect(html.contains(#"<a href="http://www.example.com">www.example.com</a>"#))
        #expect(html.contains(#"<input type="checkbox" checked="" disabled="" /> done"#))
        #expect(html.contains(#"<input type="checkbox" disabled="" /> not yet"#))
    }

    @Test("without the extensions the same text stays plain CommonMark")
    func plainCommonMarkWithoutExtensions() throws {
        let html = try renderHTML("~~old~~ and www.example.com\n\n- [x] done\n", extensions: [])
        #expect(!html.contains("<del>"))
        #expect(!html.contains("<a "))
        #expect(!html.contains("checkbox"))
        #expect(html.contains("~~old~~"))
        #expect(html.contains("[x] done"))
    }

    @Test("raw HTML and javascript: links are dropped unless CMARK_OPT_UNSAFE is set")
    func safeByDefault() throws {
        let markdown = "<script>alert(1)</script>\n\n[x](javascript:alert(2)) <b>bold</b>\n"
        let safe = try renderHTML(markdown, extensions: Self.gfmExtensions)
        #expect(!safe.contains("<script"))
        #expect(!safe.contains("<b>"))
        #expect(!safe.contains("javascript:"))
        #expect(safe.contains("raw HTML omitted"))

        let unsafe = try renderHTML(markdown, extensions: Self.gfmExtensions, options: CMARK_OPT_UNSAFE)
        #expect(unsafe.contains("<script>alert(1)</script>"))
        #expect(unsafe.contains("<b>bold</b>"))
    }
}
