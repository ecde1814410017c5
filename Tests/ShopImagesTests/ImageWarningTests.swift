import Testing
@testable import ShopImages

@Suite("Image warnings, grouped")
struct ImageWarningTests {
    @Test("One group per host and reason, largest first, with a count and the first source as the example")
    func grouping() {
        let unresolved = "host cdn.shopify.com cannot be resolved after 3 attempts"
        let warnings = (1...21).map { ImageWarning(source: "https://CDN.shopify.com/s/files/\($0).jpg", message: unresolved) } + [
            ImageWarning(source: "https://img.example.com/a.jpg", message: "answered HTTP 404"),
            ImageWarning(source: "https://img.example.com/b.jpg", message: "answered HTTP 404"),
            ImageWarning(source: "https://img.example.com/c.jpg", message: "answered HTTP 500 after 3 attempts"),
            ImageWarning(source: "/images/products/gone.jpg", message: "no such file"),
        ]
        let groups = ImageWarningGroup.grouping(warnings.reversed())
        #expect(groups.map(\.count) == [21, 2, 1, 1])
        #expect(groups[0].host == "cdn.shopify.com")
        #expect(groups[0].example == "https://CDN.shopify.com/s/files/1.jpg")
        #expect(groups[0].description == "21 images from cdn.shopify.com: \(unresolved) (for example https://CDN.shopify.com/s/files/1.jpg)")
        #expect(groups[1].description == "2 images from img.example.com: answered HTTP 404 (for example https://img.example.com/a.jpg)")
        // A group of one reads as the single warning it is; groups of one size go by host.
        #expect(groups[2].description == "https://img.example.com/c.jpg: answered HTTP 500 after 3 attempts")
        #expect(groups[3].description == "/images/products/gone.jpg: no such file")
        #expect(groups[3].host == "local files")
        #expect(groups.reduce(0) { $0 + $1.count } == warnings.count, "no warning lost")
    }
}
