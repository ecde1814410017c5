import Foundation
import ShopCore
@testable import ShopImages
import ShopTestSupport
@testable import SiteBuild
import Testing

/// The default theme's `picture` partial, rendered as the build renders it: the context from
/// `PageModels.picture`, the template by the theme's compiled templates.
@Suite("picture partial")
struct PicturePartialTests {
    static let image = ProductImage(src: "https://cdn.example.com/mug.jpg", position: 1, alt: "Red \"enamel\" mug")
    static let product = Product(handle: "mug", title: "Mug", variants: [Variant(sku: "MUG", options: [], priceCents: 100, stock: 1)],
                                 images: [image])

    static let set = ImageSet(
        source: image.src, alt: image.alt,
        webp: [.init(file: "img/k-320.webp", width: 320, height: 240, bytes: 1), .init(file: "img/k-640.webp", width: 640, height: 480, bytes: 2)],
        fallback: .init(file: "img/k-640.jpg", width: 640, height: 480, bytes: 3),
        width: 640, height: 480, placeholder: "data:image/webp;base64,UklGRg==", dominantColour: "#a03020", sourceBytes: 10)

    /// The partial as a page shows `image`, with `set` as the image stage's result (nil: --no-images).
    func render(_ set: ImageSet?, sizes: String = PageModels.productSizes, eager: Bool = false) throws -> String {
        let shop = try ExampleShopConfig.load()
        let theme = try Theme.load(config: shop)
        var models = PageModels(config: shop, navigation: [], stylesheet: "/css/shop.css", year: 2026)
        if let set { models.imageSets = [Self.image.src: set] }
        let context = models.picture(Self.image, Self.product, sizes: sizes, eager: eager)
        return try theme.renderText(.fields(context), template: "picture")
    }

    @Test("A made set: WebP srcset and sizes, the fallback with its size, lazy, async, alt escaped, placeholder behind")
    func madeSet() throws {
        let html = try render(Self.set, sizes: "(min-width: 800px) 50vw, 100vw")
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
        let html = try render(Self.set, eager: true)
        #expect(html.contains(#"loading="eager""#) && !html.contains(#"loading="lazy""#))
    }

    @Test("A source that could not be had shows its placeholder alone, never a broken image")
    func standIn() throws {
        let html = try render(ImageSet.standIn(for: ImageSource(Self.image.src, alt: "Gone")))
        #expect(!html.contains("<source"))
        #expect(html.contains(#"src="data:image/svg+xml;base64,"#))
        #expect(html.contains(#"width="1024" height="768""#))
    }

    @Test("Without the image stage (--no-images) the catalog's source is shown as it is")
    func noImages() throws {
        let html = try render(nil)
        #expect(html.contains(#"src="https://cdn.example.com/mug.jpg""#))
        #expect(!html.contains("<source"))
        #expect(html.contains("alt=\"Red &quot;enamel&quot; mug\""))
    }
}

/// The repository's own site.yml, for tests that need the default theme and nothing built.
enum ExampleShopConfig {
    static func load() throws -> SiteConfig { try SiteConfig.load(path: Repository.path("site.yml")) }
}
