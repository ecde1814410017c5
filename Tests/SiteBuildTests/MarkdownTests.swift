import Foundation
import SiteBuild
import Testing

@Suite("Markdown (cmark-gfm)")
struct MarkdownTests {
    @Test("tables")
    func table() {
        let html = Markdown.html("""
            | Region | Rate |
            |:-------|-----:|
            | EU     | €8.00 |
            """)
        #expect(html.contains("<table>"))
        #expect(html.contains("<th align=\"left\">Region</th>"))
        #expect(html.contains("<td align=\"right\">€8.00</td>"))
    }

    @Test("strikethrough")
    func strikethrough() {
        #expect(Markdown.html("~~€45.00~~ €39.00").contains("<del>€45.00</del> €39.00"))
    }

    @Test("autolinks for bare www. and https:// addresses")
    func autolink() {
        let html = Markdown.html("See www.example.com and https://example.org/shop today.")
        #expect(html.contains(#"<a href="http://www.example.com">www.example.com</a>"#))
        #expect(html.contains(#"<a href="https://example.org/shop">https://example.org/shop</a>"#))
    }

    @Test("task lists")
    func taskList() {
        let html = Markdown.html("- [x] packed\n- [ ] shipped\n")
        #expect(html.contains(#"<input type="checkbox" checked="" disabled="" /> packed"#))
        #expect(html.contains(#"<input type="checkbox" disabled="" /> shipped"#))
    }

    @Test("fenced code keeps its language as GitHub does (pre lang)")
    func codeLanguage() {
        let html = Markdown.html("```swift\nlet x = 1 < 2\n```\n")
        #expect(html.contains(#"<pre lang="swift"><code>let x = 1 &lt; 2"#))
    }

    @Test("raw HTML does not come through (safe mode)")
    func rawHTMLIsOmitted() {
        let html = Markdown.html("""
            <script>alert(1)</script>

            Inline <script>alert(2)</script> and <img src=x onerror=alert(3)> and <b>bold</b>.

            <div onclick="alert(4)">block</div>
            """)
        #expect(!html.lowercased().contains("<script"))
        #expect(!html.contains("alert(1)"))
        #expect(!html.contains("<img"))
        #expect(!html.contains("onerror"))
        #expect(!html.contains("<b>"))
        #expect(!html.contains("onclick"))
        #expect(html.contains("raw HTML omitted"))
    }

    @Test("dangerous link schemes give no href", arguments: [
        "[x](javascript:alert(1))",
        "[x](JavaScript:alert(1))",
        "[x](&#106;avascript:alert(1))",
        "[x](<javascript:alert(1)>)",
        "[x](vbscript:msgbox(1))",
        "[x](data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==)",
        "[x][ref]\n\n[ref]: javascript:alert(1)",
        "<javascript:alert(1)>",
    ])
    func dangerousLinks(markdown: String) {
        let html = Markdown.html(markdown).lowercased()
        #expect(!html.contains("href=\"javascript"))
        #expect(!html.contains("href=\"vbscript"))
        #expect(!html.contains("href=\"data:"))
        #expect(html.contains("<a href=\"\""), "the link stays, with an empty href: \(html)")
    }

    @Test("ordinary links and data: images are kept")
    func safeLinksKept() {
        let html = Markdown.html("[credits](/credits/) [mail](mailto:hello@example.com) ![dot](data:image/png;base64,AAAA)")
        #expect(html.contains(#"<a href="/credits/">credits</a>"#))
        #expect(html.contains(#"<a href="mailto:hello@example.com">mail</a>"#))
        #expect(html.contains(#"<img src="data:image/png;base64,AAAA" alt="dot" />"#))
    }

    @Test("empty input renders nothing")
    func empty() {
        #expect(Markdown.html("") == "")
    }

    /// cmark-gfm turns strikethrough's `~` on and off in a global table around each parse: two
    /// parses at once made one of them miss it (a content page rendered differently now and then).
    @Test("Parses on many threads at once all render strikethrough, as one parse alone does")
    func concurrentParses() async {
        let text = "Rest of the world: ~~€45.00~~ €39.00, and *no* ~tilde~ lost.\n"
        let alone = Markdown.html(text)
        #expect(alone.contains("<del>€45.00</del>"))
        let results = await withTaskGroup(of: [String].self) { group in
            for _ in 0..<8 {
                group.addTask { (0..<400).map { _ in Markdown.html(text) } }
            }
            var all: [String] = []
            for await part in group { all += part }
            return all
        }
        #expect(results.count == 3200)
        #expect(results.allSatisfy { $0 == alone }, "\(results.filter { $0 != alone }.count) parses differed")
    }
}
