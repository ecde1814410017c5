import Foundation
import SiteBuild
import Testing

/// Whole files of the example shop, built on a fixed day, compared byte for byte with the copies
/// in Tests/SiteBuildTests/Golden/. A change to the theme or to rendering shows here as a diff to
/// read, not as a silent change to every shop. After a deliberate change, write them anew with
/// `ISHOP_UPDATE_GOLDEN=1 swift test --filter GoldenPageTests` and read the diff before committing.
@Suite("Golden pages")
struct GoldenPageTests {
    static let files = [
        "index.html",
        "products/fig-bowl-print/index.html",
        "collections/art-print/index.html",
        "collections/index.html",
        "about/index.html",
        "404.html",
        "sitemap.xml",
        "feed.xml",
        "merchant-feed.xml",
        "search-index.json",
    ]

    static var goldenFolder: String {
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Golden").path
    }

    static func goldenName(_ relative: String) -> String {
        relative.replacingOccurrences(of: "/", with: "__")
    }

    @Test("the example shop's pages and feeds are exactly the golden copies", arguments: files)
    func golden(_ relative: String) async throws {
        let shop = try await ExampleShop.make()
        defer { shop.remove() }
        _ = try await shop.buildOnFixedDate()
        let built = try #require(shop.page(relative), "the build wrote no \(relative)")
        let path = "\(Self.goldenFolder)/\(Self.goldenName(relative))"
        if ProcessInfo.processInfo.environment["ISHOP_UPDATE_GOLDEN"] == "1" {
            try FileManager.default.createDirectory(atPath: Self.goldenFolder, withIntermediateDirectories: true)
            try Data(built.utf8).write(to: URL(fileURLWithPath: path))
            return
        }
        let golden = try #require(readText(path), "no golden copy of \(relative): write it with ISHOP_UPDATE_GOLDEN=1")
        if built != golden {
            let builtLines = built.split(separator: "\n", omittingEmptySubsequences: false)
            let goldenLines = golden.split(separator: "\n", omittingEmptySubsequences: false)
            let first = zip(builtLines, goldenLines).enumerated().first { $0.element.0 != $0.element.1 }?.offset
                ?? min(builtLines.count, goldenLines.count)
            let built = first < builtLines.count ? String(builtLines[first].prefix(300)) : "<end>"
            let expected = first < goldenLines.count ? String(goldenLines[first].prefix(300)) : "<end>"
            Issue.record("\(relative) differs from its golden copy at line \(first + 1):\n  built:  \(built)\n  golden: \(expected)")
        }
    }
}
