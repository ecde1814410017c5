import Foundation
import ShopCore
import ShopTestSupport
import Testing
@testable import ShopImages

@Suite("Image pipeline")
struct PipelineTests {
    @Test("Every shared photo gives WebP at each width it can, a fallback, and files libwebp reads back")
    func everyPhoto() async throws {
        let scratch = try Scratch()
        defer { scratch.remove() }
        let config = try scratch.config(["  localFolders: [\"\(Repository.photos.path)\"]"])
        let names = ImageFixtures.photoNames
        #expect(names.count >= 20)
        let sources = names.map { ImageSource(Repository.photos.appendingPathComponent($0).path, alt: $0) }
        let report = try await ImagePipeline.prepare(sources: sources, config: config, outputDirectory: scratch.publicDirectory)
        #expect(report.failed == 0, "\(report.warnings)")
        #expect(report.processed == names.count)
        #expect(report.bytesSaved > 0)

        for source in sources {
            let set = try #require(report.sets[source.reference])
            let header = try ImageHeader.read([UInt8](Data(contentsOf: URL(fileURLWithPath: source.reference))))
            let expectedWidths = [320, 640, 1024, 1600].filter { $0 <= header.width }
            #expect(set.webp.map(\.width) == expectedWidths, "\(source.alt)")
            #expect(set.alt == source.alt)
            for variant in set.webp {
                let decoded = try PixelImage.decodeWebP(scratch.outputFile(variant.file))
                #expect(decoded.width == variant.width && decoded.height == variant.height, "\(variant.file)")
                let expectedHeight = Int((Double(header.height) * Double(variant.width) / Double(header.width)).rounded())
                #expect(abs(variant.height - expectedHeight) <= 1, "\(variant.file)")
            }
            let fallback = try #require(set.fallback)
            #expect(fallback.width == 1024)
            let fallbackBytes = try scratch.outputFile(fallback.file)
            let fallbackHeader = try ImageHeader.read(fallbackBytes)
            #expect(fallbackHeader.width == fallback.width && fallbackHeader.height == fallback.height)
            // Metadata stripped: no orientation tag survives.
            #expect(fallbackHeader.orientation == 1)
            #expect(set.placeholder.hasPrefix("data:image/webp;base64,"))
            #expect(set.placeholder.count < 1_000)
            #expect(set.dominantColour.count == 7 && set.dominantColour.hasPrefix("#"))
        }
        let portrait = try #require(report.sets[Repository.photos.appendingPathComponent("dogs-window-exif6.jpg").path])
        #expect(portrait.height > portrait.width, "EXIF orientation 6 must turn the picture upright")
        #expect(portrait.webp.map(\.width) == [320, 640, 1024])  // 1598 wide upright: no 1600, never upscaled
        let cutout = try #require(report.sets[Repository.photos.appendingPathComponent("clock-cutout.png").path])
        #expect(cutout.fallback?.file.hasSuffix(".png") == true)
        let cups = try #require(report.sets[Repository.photos.appendingPathComponent("colorful-cups.png").path])
        #expect(cups.fallback?.file.hasSuffix(".jpg") == true)
    }

    @Test("PNG alpha survives into the WebP and the PNG fallback")
    func alphaSurvives() async throws {
        let scratch = try Scratch()
        defer { scratch.remove() }
        try scratch.folder.write("alpha.png", ImageFixtures.fixture("alpha.png"))
        let config = try scratch.config(["  widths: [48]", "  fallbackWidth: 96"])
        let report = try await ImagePipeline.prepare(
            sources: [ImageSource("alpha.png", alt: "A cut-out")], config: config, outputDirectory: scratch.publicDirectory)
        let set = try #require(report.sets["alpha.png"])
        let webp = try PixelImage.decodeWebP(scratch.outputFile(try #require(set.webp.first).file))
        #expect(webp.width == 48)
        #expect(webp.pixel(x: 45, y: 15)[3] < 10)    // transparent quarter
        #expect(webp.pixel(x: 5, y: 15)[3] > 245)    // opaque part
        let fallback = try #require(set.fallback)
        #expect(fallback.file.hasSuffix(".png"))
        let png = try PixelImage.decode(scratch.outputFile(fallback.file), maxPixels: 1_000_000).0
        #expect(png.width == 96)
        #expect(png.pixel(x: 90, y: 30)[3] == 0)
        #expect(png.pixel(x: 60, y: 30)[3] == 128)
        #expect(png.pixel(x: 10, y: 30)[3] == 255)
    }

    @Test("Broken sources become placeholders with a warning naming them; the rest of the stage goes on")
    func brokenSourcesArePlaceholders() async throws {
        let scratch = try Scratch()
        defer { scratch.remove() }
        let photo = try ImageFixtures.photo("bird-lamp.jpg")
        try scratch.folder.write("truncated.jpg", Array(photo.prefix(photo.count / 3)))
        var png = try ImageFixtures.fixture("rgb.png")
        for index in 60..<png.count - 20 { png[index] ^= 0xA5 }
        try scratch.folder.write("corrupt.png", png)
        try scratch.folder.write("text.jpg", Array("this is not a photo\n".utf8))
        try scratch.folder.write("bomb.png", CodecTests.bombPNG(width: 30_000, height: 30_000))
        try scratch.folder.write("good.png", ImageFixtures.fixture("rgb.png"))
        let config = try scratch.config(["  widths: [64]", "  fallbackWidth: 64"])
        let broken = ["truncated.jpg", "corrupt.png", "text.jpg", "bomb.png", "missing.jpg", "file:///etc/passwd"]
        let sources = (broken + ["good.png"]).map { ImageSource($0, alt: "alt for \($0)") }
        let report = try await ImagePipeline.prepare(sources: sources, config: config, outputDirectory: scratch.publicDirectory)
        #expect(report.failed == broken.count)
        #expect(report.processed == 1)
        #expect(report.warnings.map(\.source).sorted() == broken.sorted())
        for name in broken {
            let set = try #require(report.sets[name])
            #expect(set.isPlaceholderOnly)
            #expect(set.alt == "alt for \(name)")
            #expect(set.placeholder.hasPrefix("data:image/"))
            #expect(set.width > 0 && set.height > 0)
        }
        let messages = Dictionary(uniqueKeysWithValues: report.warnings.map { ($0.source, $0.message) })
        #expect(messages["truncated.jpg"]?.contains("Premature end") == true)
        #expect(messages["text.jpg"]?.contains("not an image") == true)
        #expect(messages["bomb.png"]?.contains("more than") == true)
        #expect(messages["missing.jpg"]?.contains("no such file") == true)
        #expect(messages["file:///etc/passwd"]?.contains("only http and https") == true)

        await #expect(throws: ImagePipelineError.self) {
            try await ImagePipeline.prepare(
                sources: sources, config: config, outputDirectory: scratch.publicDirectory, options: .init(strict: true))
        }
    }

    @Test("Names are content-addressed: the same bytes and settings give the same names anywhere")
    func stableNames() async throws {
        let first = try Scratch(), second = try Scratch()
        defer { first.remove(); second.remove() }
        try first.folder.write("a.png", ImageFixtures.fixture("rgb.png"))
        try second.folder.write("b.png", ImageFixtures.fixture("rgb.png"))
        let one = try await ImagePipeline.prepare(
            sources: [ImageSource("a.png")], config: first.config(["  widths: [32, 64]"]), outputDirectory: first.publicDirectory)
        let two = try await ImagePipeline.prepare(
            sources: [ImageSource("b.png")], config: second.config(["  widths: [32, 64]"]), outputDirectory: second.publicDirectory)
        let oneSet = try #require(one.sets["a.png"]), twoSet = try #require(two.sets["b.png"])
        #expect(oneSet.webp.map(\.file) == twoSet.webp.map(\.file))
        #expect(oneSet.fallback?.file == twoSet.fallback?.file)
        #expect(first.imageFiles() == second.imageFiles())

        let other = try await ImagePipeline.prepare(
            sources: [ImageSource("b.png")], config: second.config(["  widths: [32, 64]", "  quality: 60"]),
            outputDirectory: second.publicDirectory)
        let otherSet = try #require(other.sets["b.png"])
        #expect(Set(otherSet.webp.map(\.file)).isDisjoint(with: oneSet.webp.map(\.file)))
    }

    @Test("A warm build decodes nothing, and unused outputs are pruned")
    func warmCacheAndPruning() async throws {
        let scratch = try Scratch()
        defer { scratch.remove() }
        for name in ["rgb.png", "alpha.png", "grey.png"] { try scratch.folder.write(name, ImageFixtures.fixture(name)) }
        let config = try scratch.config(["  widths: [32, 64]", "  fallbackWidth: 64"])
        let sources = ["rgb.png", "alpha.png", "grey.png"].map { ImageSource($0) }
        let cold = try await ImagePipeline.prepare(sources: sources, config: config, outputDirectory: scratch.publicDirectory)
        #expect(cold.processed == 3 && cold.cached == 0)
        let coldFiles = scratch.imageFiles()

        // A new public/ (as a clean publish gives) is filled from the cache alone.
        try FileManager.default.removeItem(atPath: scratch.publicDirectory)
        let warm = try await ImagePipeline.prepare(sources: sources, config: config, outputDirectory: scratch.publicDirectory)
        #expect(warm.processed == 0)
        #expect(warm.cached == 3)
        #expect(scratch.imageFiles() == coldFiles)
        #expect(warm.sets["alpha.png"] == cold.sets["alpha.png"])

        let fewer = try await ImagePipeline.prepare(
            sources: Array(sources.prefix(1)), config: config, outputDirectory: scratch.publicDirectory)
        #expect(fewer.cached == 1)
        let kept = scratch.imageFiles()
        let expected = Set((fewer.sets["rgb.png"]!.webp.map(\.file) + [fewer.sets["rgb.png"]!.fallback!.file]).map {
            ($0 as NSString).lastPathComponent
        })
        #expect(kept == expected)
    }

    @Test("A WebP source makes a set like any other; with transparency its fallback is a PNG")
    func webpSourceInThePipeline() async throws {
        let scratch = try Scratch()
        defer { scratch.remove() }
        let cutout = try PixelImage.decode(try ImageFixtures.photo("clock-cutout.png"), maxPixels: 50_000_000).0
        try scratch.folder.write("cutout.webp", try cutout.webp(quality: 90, method: 4, keepAlpha: true))
        let config = try scratch.config(["  widths: [32, 64]", "  fallbackWidth: 64"])
        let report = try await ImagePipeline.prepare(sources: [ImageSource("cutout.webp")], config: config,
                                                     outputDirectory: scratch.publicDirectory)
        #expect(report.processed == 1 && report.failed == 0, "\(report.warnings)")
        let set = try #require(report.sets["cutout.webp"])
        #expect(set.webp.map(\.width) == [32, 64])
        #expect(set.fallback?.file.hasSuffix(".png") == true)
    }

    @Test("A warm build reads no unchanged local source; a changed file is read again and its new picture used")
    func localSourcesKnownByIdentity() async throws {
        let scratch = try Scratch()
        defer { scratch.remove() }
        try scratch.folder.write("a.png", ImageFixtures.fixture("rgb.png"))
        try scratch.folder.write("b.png", ImageFixtures.fixture("grey.png"))
        let config = try scratch.config(["  widths: [32, 64]", "  fallbackWidth: 64"])
        let sources = [ImageSource("a.png"), ImageSource("b.png")]
        let cold = try await ImagePipeline.prepare(sources: sources, config: config, outputDirectory: scratch.publicDirectory)
        #expect(cold.processed == 2 && cold.localSourcesRead == 2)

        let warm = try await ImagePipeline.prepare(sources: sources, config: config, outputDirectory: scratch.publicDirectory)
        #expect(warm.cached == 2 && warm.localSourcesRead == 0)
        #expect(warm.sets["a.png"] == cold.sets["a.png"])

        // Replaced by another picture (a new file, so a new inode and modification time).
        try FileManager.default.removeItem(atPath: scratch.folder.file("a.png"))
        try scratch.folder.write("a.png", ImageFixtures.fixture("alpha.png"))
        let changed = try await ImagePipeline.prepare(sources: sources, config: config, outputDirectory: scratch.publicDirectory)
        #expect(changed.localSourcesRead == 1 && changed.processed == 1 && changed.cached == 1)
        #expect(changed.sets["a.png"]?.webp.map(\.file) != cold.sets["a.png"]?.webp.map(\.file))

        // New output parameters: every source is read again.
        let wider = try scratch.config(["  widths: [32, 48]", "  fallbackWidth: 48"])
        let rewidened = try await ImagePipeline.prepare(sources: sources, config: wider, outputDirectory: scratch.publicDirectory)
        #expect(rewidened.localSourcesRead == 2 && rewidened.processed == 2)
    }

    @Test("The decode scale leaves the largest output at least 2x headroom")
    func scaleChoice() throws {
        let header = ImageHeader(format: .jpeg, storedWidth: 6000, storedHeight: 4000, mayHaveAlpha: false, orientation: 1)
        #expect(ImageRenderer.scaleDenominator(for: header, largest: 1600) == 1)  // 6000/2 = 3000 < 3200
        #expect(ImageRenderer.scaleDenominator(for: header, largest: 1024) == 2)
        #expect(ImageRenderer.scaleDenominator(for: header, largest: 320) == 8)
        let turned = ImageHeader(format: .jpeg, storedWidth: 6000, storedHeight: 2000, mayHaveAlpha: false, orientation: 6)
        #expect(ImageRenderer.scaleDenominator(for: turned, largest: 1000) == 1)  // upright it is 2000 wide
        let png = ImageHeader(format: .png, storedWidth: 6000, storedHeight: 4000, mayHaveAlpha: false, orientation: 1)
        #expect(ImageRenderer.scaleDenominator(for: png, largest: 320) == 1)
        #expect(ImageRenderer.widths(configured: [320, 640, 1024, 1600], sourceWidth: 700) == [320, 640])
        #expect(ImageRenderer.widths(configured: [320, 640], sourceWidth: 200) == [200])
    }

    @Test("images: settings are read from site.yml with file:line errors")
    func configuration() throws {
        let scratch = try Scratch()
        defer { scratch.remove() }
        let config = try scratch.config([
            "  quality: 70", "  method: 6", "  fallbackWidth: 800", "  maxPixels: 1000000",
            "  fetch:", "    connectTimeoutMs: 100", "    readTimeoutMs: 200", "    deadlineMs: 300",
            "    retries: 1", "    perHostConcurrency: 2", "    maxBytes: 5000", "    allowedPrivateHosts: [127.0.0.1]",
        ])
        let images = config.images
        #expect(images.quality == 70 && images.method == 6 && images.fallbackWidth == 800 && images.maxPixels == 1_000_000)
        #expect(images.cacheDir == "cache")
        #expect(images.connectTimeoutMs == 100 && images.readTimeoutMs == 200 && images.deadlineMs == 300)
        #expect(images.retries == 1 && images.perHostConcurrency == 2 && images.maxBytes == 5000)
        #expect(images.allowedPrivateHosts == ["127.0.0.1"])
        let defaults = try scratch.config([]).images.with { $0.cacheDir = ".ishop/images" }
        #expect(SiteConfig.ImageSettings() == defaults)

        let error = #expect(throws: ConfigError.self) { try scratch.config(["  quality: 101"]) }
        #expect(error?.line == 3)
        #expect(error?.keyPath == "images.quality")
        let typo = #expect(throws: ConfigError.self) { try scratch.config(["  fetch:", "    retry: 3"]) }
        #expect(typo?.keyPath == "images.fetch.retry")
        #expect(typo?.line == 4)
    }

    @Test("The picture data carries srcset, fallback, size, placeholder and alt")
    func templateData() throws {
        let set = ImageSet(
            source: "x.jpg", alt: "Red mug",
            webp: [.init(file: "img/k-320.webp", width: 320, height: 240, bytes: 1), .init(file: "img/k-640.webp", width: 640, height: 480, bytes: 2)],
            fallback: .init(file: "img/k-640.jpg", width: 640, height: 480, bytes: 3),
            width: 640, height: 480, placeholder: "data:image/webp;base64,AA==", dominantColour: "#aabbcc", sourceBytes: 10)
        #expect(set.srcset() == "/img/k-320.webp 320w, /img/k-640.webp 640w")
        let data = set.templateData(prefix: "/shop/", sizes: "50vw", eager: true)
        #expect(data["src"] as? String == "/shop/img/k-640.jpg")
        #expect(data["alt"] as? String == "Red mug")
        #expect(data["eager"] as? Bool == true)
        let standIn = ImageSet.standIn(for: ImageSource("gone.jpg", alt: "Gone"))
        #expect(standIn.templateData()["missing"] as? Bool == true)
        #expect((standIn.templateData()["src"] as? String)?.hasPrefix("data:image/svg+xml") == true)
    }
}

extension SiteConfig.ImageSettings {
    func with(_ change: (inout Self) -> Void) -> Self {
        var copy = self
        change(&copy)
        return copy
    }

    @Test("A local source outside the site folder is refused (absolute, through .., through a link) unless images.localFolders lists its folder")
    func localSourcesStayInTheSite() async throws {
        let scratch = try Scratch()
        defer { scratch.remove() }
        let outside = try Scratch()
        defer { outside.remove() }
        try outside.folder.write("private.png", ImageFixtures.photo("clock-cutout.png"))
        let outsideFile = outside.folder.file("private.png")
        try FileManager.default.createDirectory(atPath: scratch.folder.file("static"), withIntermediateDirectories: true)
        try FileManager.default.createSymbolicLink(atPath: scratch.folder.file("static/link.png"), withDestinationPath: outsideFile)
        let relative = String(repeating: "../", count: scratch.folder.path.split(separator: "/").count) + String(outsideFile.dropFirst())
        let sources = [outsideFile, relative, "static/link.png"].map { ImageSource($0) }

        let refused = try await ImagePipeline.prepare(
            sources: sources, config: try scratch.config(["  widths: [64]", "  fallbackWidth: 64"]), outputDirectory: scratch.publicDirectory)
        #expect(refused.failed == 3)
        for warning in refused.warnings {
            #expect(warning.message.contains("outside the site folder") && warning.message.contains("images.localFolders"), "\(warning)")
        }
        #expect(refused.sets.values.allSatisfy { $0.fallback == nil })  // placeholders only

        let allowed = try await ImagePipeline.prepare(
            sources: sources, config: try scratch.config(["  widths: [64]", "  fallbackWidth: 64", "  localFolders: [\"\(outside.folder.path)\"]"]),
            outputDirectory: scratch.publicDirectory)
        #expect(allowed.failed == 0, "\(allowed.warnings)")
        #expect(allowed.sets.count == 3)
    }

}
