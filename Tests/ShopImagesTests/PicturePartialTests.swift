import Foundation
import Mustache
import Testing
@testable import ShopImages

/// The default theme's `picture` partial, rendered by the same Mustache library the build uses.
@Suite("picture partial")
struct PicturePartialTests {
    func render(_ data: [String: Any]) throws -> String {
        let url = Paths.repositoryRoot.appendingPathComponent("themes/default/layouts/picture.mustache")
        var library = MustacheLibrary()
        try library.register(String(contentsOf: url, encoding: .utf8), named: "picture")
        return try #require(library.render(data, withTemplate: "picture"))
    }

    static let set = ImageSet(
        source: "https://cdn.example.com/mug.jpg", alt: "Red \"enamel\" mug",
        webp: [.init(file: "img/k-320.webp", width: 320, height: 240, bytes: 1), .init(file: "img/k-640.webp", width: 640, height: 480, bytes: 2)],
        fallback: .init(file: "img/k-640.jpg", width: 640, height: 480, bytes: 3),
        width: 640, height: 480, placeholder: "data:image/webp;base64,UklGRg==", dominantColour: "#a03020", sourceBytes: 10)

    @Test("A made set: WebP srcset and sizes, the fallback with its size, lazy, async, alt escaped, placeholder behind")
    func madeSet() throws {
        let html = try render(Self.set.templateData(prefix: "/", sizes: "(min-width: 800px) 50vw, 100vw"))
        #expect(html.contains("<picture>"))
        #expect(html.contains(#"<source type="image/webp" srcset="/img/k-320.webp 320w, /img/k-640.webp 640w" sizes="(min-width: 800px) 50vw, 100vw">"#))
        #expect(html.contains(#"src="/img/k-640.jpg""#))
        #expect(html.contains(#"width="640" height="480""#))
        #expect(html.contains(#"loading="lazy""#) && !html.contains("eager"))
        #expect(html.contains(#"decoding="async""#))
        #expect(html.contains("alt=\"Red &quot;enamel&quot; mug\""))
        #expect(html.contains("background:#a03020 url(data:image/webp;base64,UklGRg"))
    }

    @Test("The first picture of a product page loads eagerly")
    func eager() throws {
        let html = try render(Self.set.templateData(eager: true))
        #expect(html.contains(#"loading="eager""#) && !html.contains(#"loading="lazy""#))
    }

    @Test("A source that could not be had shows its placeholder alone, never a broken image")
    func standIn() throws {
        let html = try render(ImageSet.standIn(for: ImageSource("https://gone.example.com/x.jpg", alt: "Gone")).templateData())
        #expect(!html.contains("<source"))
        #expect(html.contains(#"src="data:image/svg+xml;base64,"#))
        #expect(html.contains(#"alt="Gone""#))
        #expect(html.contains(#"width="1024" height="768""#))
    }
}
