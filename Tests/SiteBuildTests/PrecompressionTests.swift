import Foundation
import ShopCore
import SiteBuild
import Testing

/// Nginx's gzip_static serves `X.gz` in place of `X`: it must be exactly X, compressed.
@Suite("Precompression")
struct PrecompressionTests {
    @Test("Every text output of at least 256 bytes has a smaller .gz beside it holding exactly its bytes")
    func gzBesideText() async throws {
        let shop = try await ExampleShop.make()
        defer { shop.remove() }
        let report = try await shop.build()
        let files = regularFiles(under: shop.output)
        let texts = files.filter { name in
            ["html", "xml", "json", "txt", "css"].contains((name as NSString).pathExtension)
                && (FileManager.default.contents(atPath: "\(shop.output)/\(name)")?.count ?? 0) >= 256
        }
        #expect(texts.count > 20)
        for text in texts {
            let original = try #require(FileManager.default.contents(atPath: "\(shop.output)/\(text)"))
            let compressed = "\(shop.output)/\(text).gz"
            try #require(FileManager.default.fileExists(atPath: compressed), "\(text).gz is missing")
            let size = try #require(FileManager.default.contents(atPath: compressed)?.count)
            #expect(size < original.count, "\(text).gz is not smaller")
            #expect(gunzipped(compressed) == original, "\(text).gz does not hold \(text)")
        }
        // Images are already compressed: no .gz for them.
        #expect(!files.contains { $0.hasSuffix(".jpg.gz") || $0.hasSuffix(".png.gz") })
        #expect(report.compressedFiles == files.filter { $0.hasSuffix(".gz") }.count)
    }

    @Test("precompress: false in site.yml writes no .gz files")
    func switchedOff() async throws {
        let shop = try await ExampleShop.make()
        defer { shop.remove() }
        var config = shop.config
        config.precompress = false
        let report = try await SiteBuilder(config: config, store: shop.store).build(outputDirectory: shop.output)
        #expect(report.compressedFiles == 0)
        #expect(!regularFiles(under: shop.output).contains { $0.hasSuffix(".gz") })
    }
}
