import Foundation
import SiteBuild
import Testing

/// Mistakes in a theme or a site's files that would otherwise publish a broken or silently
/// different site: each is a BuildError naming the file (and the line where there is one).
@Suite("Theme checks: missing partials and parents, static files in the way")
struct ThemeCheckTests {
    @Test("a partial that does not exist is a theme error naming the template file and line")
    func missingPartial() async throws {
        let shop = try await ExampleShop.make(importCatalog: false)
        defer { shop.remove() }
        try shop.write("layouts/page.mustache", """
            {{! A content page, with a partial whose name is misspelt. }}
            {{<base}}
            {{$main}}
            {{> product-crad}}
            {{/main}}
            {{/base}}
            """)
        let error = try await #require(throws: BuildError.self) { try await shop.buildOnFixedDate() }
        #expect(error.stage == .theme)
        let file = try #require(error.file)
        #expect(file.hasSuffix("layouts/page.mustache"))
        #expect(!file.contains("/themes/"), "the site's own template is named: \(file)")
        #expect(error.line == 4)
        #expect(error.message.contains("product-crad"))
        #expect(error.description.contains("layouts/page.mustache:4:"))
        #expect(!fileExists(shop.output), "nothing is published by a failed build")
    }

    @Test("a Mustache syntax error names the line in the template file as the file counts it")
    func syntaxErrorLine() async throws {
        let shop = try await ExampleShop.make(importCatalog: false)
        defer { shop.remove() }
        try shop.write("layouts/404.mustache", """
            {{! Line 1 }}
            {{<base}}
            {{$main}}<p>{{#broken}}</p>{{/main}}
            {{/base}}
            """)
        let error = try await #require(throws: BuildError.self) { try await shop.buildOnFixedDate() }
        #expect(error.stage == .theme)
        #expect(error.file?.hasSuffix("layouts/404.mustache") == true)
        #expect(error.line == 3)
        #expect(!error.message.contains("CONTENT_TYPE"), "ishop's own pragma is not the shop's line: \(error.message)")
    }

    @Test("a parent that does not exist is a theme error too")
    func missingParent() async throws {
        let shop = try await ExampleShop.make(importCatalog: false)
        defer { shop.remove() }
        try shop.write("layouts/404.mustache", "\n\n{{<bsae}}\n{{$main}}Lost{{/main}}\n{{/bsae}}\n")
        let error = try await #require(throws: BuildError.self) { try await shop.buildOnFixedDate() }
        #expect(error.stage == .theme)
        #expect(error.file?.hasSuffix("layouts/404.mustache") == true)
        #expect(error.line == 3)
        #expect(error.message.contains("bsae"))
    }

    @Test("partial tags are found after a change of delimiters and not inside comments or triple mustaches")
    func tokenizer() async throws {
        let shop = try await ExampleShop.make(importCatalog: false)
        defer { shop.remove() }
        // A comment that talks about a partial, a partial that exists, then new delimiters.
        try shop.write("layouts/page.mustache", """
            {{! Mentions > ghost but is a comment. }}
            {{<base}}
            {{$main}}
            {{{page.content}}}
            {{=<% %>=}}
            <%> nowhere %>
            <%={{ }}=%>
            {{/main}}
            {{/base}}
            """)
        let error = try await #require(throws: BuildError.self) { try await shop.buildOnFixedDate() }
        #expect(error.line == 6)
        #expect(error.message.contains("nowhere"))

        try shop.write("layouts/page.mustache", """
            {{! A comment ends at its first closing braces, so this is no tag: {{> ghost}}
            {{<base}}
            {{$main}}
            {{{page.content}}}
            {{/main}}
            {{/base}}
            """)
        _ = try await shop.buildOnFixedDate()
        #expect(fileExists("\(shop.output)/about/index.html"))
    }

    @Test("a static file where the build writes a file of its own is an error; static/robots.txt replaces ours")
    func staticFilesInTheWay() async throws {
        let shop = try await ExampleShop.make(importCatalog: false)
        defer { shop.remove() }
        let robots = "User-agent: *\nDisallow: /checkout/\n"
        try shop.write("static/robots.txt", robots)
        _ = try await shop.buildOnFixedDate()
        #expect(shop.page("robots.txt") == robots)

        try shop.write("static/sitemap.xml", "<urlset/>")
        let error = try await #require(throws: BuildError.self) { try await shop.buildOnFixedDate() }
        #expect(error.stage == .plan)
        #expect(error.file?.hasSuffix("static/sitemap.xml") == true)
        #expect(error.message.contains("sitemap.xml"))
        #expect(shop.page("robots.txt") == robots, "the failed build left the published site as it was")
    }
}
