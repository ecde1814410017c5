import Foundation
import ShopCore
import Testing
@testable import ShopImages

@Suite("Codecs")
struct CodecTests {
    static let pngVariants = [
        "rgb.png", "palette.png", "palette4.png", "palette-alpha.png", "grey.png", "bilevel.png",
        "grey16.png", "grey-alpha.png", "interlaced.png", "alpha.png", "rgba16.png",
    ]

    @Test("Every PNG variant decodes to 8-bit RGBA at its size", arguments: pngVariants)
    func pngVariant(_ name: String) throws {
        let bytes = try ImageFixtures.fixture(name)
        let header = try ImageHeader.read(bytes)
        #expect(header.format == .png)
        #expect(header.width == 96 && header.height == 60)
        let (image, _) = try PixelImage.decode(bytes, maxPixels: 50_000_000)
        #expect(image.width == 96 && image.height == 60)
        #expect(image.rgba.count == 96 * 60 * 4)
    }

    @Test("Interlaced and 16-bit PNGs give the same pixels as their plain 8-bit twins")
    func pngTwins() throws {
        let rgb = try PixelImage.decode(ImageFixtures.fixture("rgb.png"), maxPixels: 1_000_000).0.rgba
        let interlaced = try PixelImage.decode(ImageFixtures.fixture("interlaced.png"), maxPixels: 1_000_000).0.rgba
        #expect(interlaced == rgb)
        let grey = try PixelImage.decode(ImageFixtures.fixture("grey.png"), maxPixels: 1_000_000).0.rgba
        let grey16 = try PixelImage.decode(ImageFixtures.fixture("grey16.png"), maxPixels: 1_000_000).0.rgba
        #expect(grey16 == grey)
        let alpha = try PixelImage.decode(ImageFixtures.fixture("alpha.png"), maxPixels: 1_000_000).0.rgba
        let alpha16 = try PixelImage.decode(ImageFixtures.fixture("rgba16.png"), maxPixels: 1_000_000).0.rgba
        #expect(alpha16 == alpha)
        // Grey expands to equal R, G and B.
        let first = Array(grey[0..<4])
        #expect(first[0] == first[1] && first[1] == first[2] && first[3] == 255)
    }

    @Test("Transparency from alpha channels and tRNS survives decoding")
    func pngTransparency() throws {
        let header = try ImageHeader.read(ImageFixtures.fixture("palette-alpha.png"))
        #expect(header.mayHaveAlpha)
        let palette = try PixelImage.decode(ImageFixtures.fixture("palette-alpha.png"), maxPixels: 1_000_000).0
        #expect(palette.pixel(x: 90, y: 30)[3] == 0)
        #expect(palette.pixel(x: 10, y: 30)[3] == 255)
        let alpha = try PixelImage.decode(ImageFixtures.fixture("alpha.png"), maxPixels: 1_000_000).0
        #expect(alpha.pixel(x: 90, y: 30)[3] == 0)
        #expect(alpha.pixel(x: 60, y: 30)[3] == 128)
        #expect(!alpha.isOpaque)
        let rgb = try PixelImage.decode(ImageFixtures.fixture("rgb.png"), maxPixels: 1_000_000).0
        #expect(rgb.isOpaque)
    }

    @Test("JPEG decodes with DCT downscaling, and WebP, JPEG and PNG encoders round-trip")
    func jpegScalingAndEncoders() throws {
        let bytes = try ImageFixtures.photo("bird-lamp.jpg")  // 2400x1800
        let full = try PixelImage.decode(bytes, maxPixels: 50_000_000).0
        #expect(full.width == 2400 && full.height == 1800)
        let quarter = try PixelImage.decode(bytes, scaleDenominator: 4, maxPixels: 50_000_000).0
        #expect(quarter.width == 600 && quarter.height == 450)
        let eighth = try PixelImage.decode(bytes, scaleDenominator: 8, maxPixels: 50_000_000).0
        #expect(eighth.width == 300 && eighth.height == 225)

        let small = try quarter.resized(width: 320, height: 240, opaque: true)
        let webp = try small.webp(quality: 80, method: 4, keepAlpha: false)
        let back = try PixelImage.decodeWebP(webp)
        #expect(back.width == 320 && back.height == 240)
        let jpeg = try small.jpeg(quality: 80)
        let jpegBack = try PixelImage.decode(jpeg, maxPixels: 1_000_000)
        #expect(jpegBack.0.width == 320 && jpegBack.icc == nil)
        let png = try small.png(keepAlpha: false)
        let pngBack = try PixelImage.decode(png, maxPixels: 1_000_000).0
        #expect(pngBack.rgba == small.rgba)
    }

    @Test("The resize keeps a flat colour flat and premultiplies alpha (no dark fringes)")
    func resizeQuality() throws {
        // Left half opaque red, right half fully transparent with garbage green behind it.
        var rgba: [UInt8] = []
        for _ in 0..<40 { for x in 0..<40 { rgba += x < 20 ? [255, 0, 0, 255] : [0, 255, 0, 0] } }
        let image = PixelImage(width: 40, height: 40, rgba: rgba)
        let small = try image.resized(width: 10, height: 10, opaque: false)
        for x in 0..<10 {
            let pixel = small.pixel(x: x, y: 5)
            // Wherever anything shows, it is red: the invisible green never bleeds in.
            if pixel[3] > 8 { #expect(pixel[1] < 8, "green bled into x=\(x): \(pixel)") }
        }
        #expect(small.pixel(x: 1, y: 5) == [255, 0, 0, 255])  // its taps reach only opaque red
        #expect(small.pixel(x: 8, y: 5)[3] == 0)
    }

    @Test("Still WebP sources decode with their alpha; truncated and animated ones are clear errors")
    func webpSources() throws {
        let photo = try PixelImage.decode(try ImageFixtures.photo("bird-lamp.jpg"), scaleDenominator: 4, maxPixels: 50_000_000).0
        let opaque = try photo.webp(quality: 80, method: 4, keepAlpha: false)
        let header = try ImageHeader.read(opaque)
        #expect(header.format == .webp && header.width == 600 && header.height == 450 && !header.mayHaveAlpha)
        let decoded = try PixelImage.decode(opaque, maxPixels: 50_000_000)
        #expect(decoded.0.width == 600 && decoded.0.height == 450 && decoded.icc == nil)

        let cutout = try PixelImage.decode(try ImageFixtures.photo("clock-cutout.png"), maxPixels: 50_000_000).0
        let transparent = try cutout.webp(quality: 80, method: 4, keepAlpha: true)
        #expect(try ImageHeader.read(transparent).mayHaveAlpha)
        let back = try PixelImage.decode(transparent, maxPixels: 50_000_000).0
        // WebP keeps alpha losslessly at this quality: every pixel's alpha is the source's.
        let alpha = { (pixels: [UInt8]) in stride(from: 3, to: pixels.count, by: 4).map { pixels[$0] } }
        #expect(alpha(back.rgba) == alpha(cutout.rgba))

        let truncated = Array(opaque.prefix(opaque.count / 2))
        let truncatedError = #expect(throws: CodecError.self) { try PixelImage.decode(truncated, maxPixels: 50_000_000) }
        #expect(truncatedError?.kind == .corrupt)
        let headerOnly = Array(opaque.prefix(20))
        #expect(throws: CodecError.self) { try PixelImage.decode(headerOnly, maxPixels: 50_000_000) }
        #expect(throws: CodecError.self) { try PixelImage.decode(opaque, maxPixels: 1000) }
    }

    @Test("Corrupt, truncated and non-image bytes are errors, never a crash")
    func brokenInputs() throws {
        let photo = try ImageFixtures.photo("bird-lamp.jpg")
        let truncated = Array(photo.prefix(photo.count * 2 / 5))
        let truncatedError = #expect(throws: CodecError.self) { try PixelImage.decode(truncated, maxPixels: 50_000_000) }
        #expect(truncatedError?.kind == .corrupt)
        #expect(truncatedError?.message.contains("Premature end") == true)

        var png = try ImageFixtures.photo("clock-cutout.png")
        for index in 5_000..<5_200 { png[index] = 0x5A }
        let pngError = #expect(throws: CodecError.self) { try PixelImage.decode(png, maxPixels: 50_000_000) }
        #expect(pngError?.kind == .corrupt)

        let text = Array("<html>not a photo</html>".utf8)
        let textError = #expect(throws: CodecError.self) { try ImageHeader.read(text) }
        #expect(textError?.kind == .notAnImage)

        #expect(throws: CodecError.self) { try PixelImage.decode([0xFF, 0xD8, 0xFF], maxPixels: 100) }
        #expect(throws: CodecError.self) { try PixelImage.decode([], maxPixels: 100) }
        #expect(throws: CodecError.self) { try PixelImage.decodeWebP(Array("RIFF....WEBPjunk".utf8)) }
    }

    /// A PNG whose header claims width x height, with a token IDAT: a decompression bomb's shape.
    static func bombPNG(width: UInt32, height: UInt32) -> [UInt8] {
        func chunk(_ type: String, _ body: [UInt8]) -> [UInt8] {
            let typed = Array(type.utf8) + body
            return bigEndian(UInt32(body.count)) + typed + bigEndian(crc32(typed))
        }
        let header = bigEndian(width) + bigEndian(height) + [8, 6, 0, 0, 0]
        return [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A] + chunk("IHDR", header)
            + chunk("IDAT", [0x78, 0x9C, 0x03, 0x00, 0x00, 0x00, 0x00, 0x01]) + chunk("IEND", [])
    }

    static func bigEndian(_ value: UInt32) -> [UInt8] { [24, 16, 8, 0].map { UInt8(truncatingIfNeeded: value >> $0) } }

    static func crc32(_ bytes: [UInt8]) -> UInt32 {
        var crc: UInt32 = 0xFFFF_FFFF
        for byte in bytes {
            crc ^= UInt32(byte)
            for _ in 0..<8 { crc = crc & 1 == 1 ? (crc >> 1) ^ 0xEDB8_8320 : crc >> 1 }
        }
        return ~crc
    }

    @Test("A 30,000 x 30,000 PNG is refused from its header, before any pixel is allocated")
    func bomb() throws {
        let bomb = Self.bombPNG(width: 30_000, height: 30_000)
        let header = try ImageHeader.read(bomb)
        #expect(header.pixelCount == 900_000_000)
        let error = #expect(throws: CodecError.self) { try PixelImage.decode(bomb, maxPixels: 50_000_000) }
        #expect(error?.kind == .tooLarge)
        #expect(error?.message.contains("30000x30000") == true)
    }

    // MARK: EXIF orientation

    static let red: [UInt8] = [255, 0, 0], green: [UInt8] = [0, 255, 0], blue: [UInt8] = [0, 0, 255], white: [UInt8] = [255, 255, 255]

    /// How a camera stores an upright picture (red top-left, green top-right, blue bottom-left,
    /// white bottom-right) under each orientation tag, as EXIF 2.3 defines the tag: the stored
    /// quadrants (top-left, top-right, bottom-left, bottom-right) and whether the sides swap.
    static let storedLayouts: [Int: (quadrants: [[UInt8]], swapped: Bool)] = [
        1: ([red, green, blue, white], false),
        2: ([green, red, white, blue], false),   // mirrored left to right
        3: ([white, blue, green, red], false),   // upside down
        4: ([blue, white, red, green], false),   // mirrored top to bottom
        5: ([red, blue, green, white], true),    // transposed
        6: ([green, white, red, blue], true),    // needs a quarter turn clockwise
        7: ([white, green, blue, red], true),    // transversed
        8: ([blue, red, white, green], true),    // needs a quarter turn anticlockwise
    ]

    static func quadrantImage(width: Int, height: Int, _ quadrants: [[UInt8]]) -> PixelImage {
        var rgba: [UInt8] = []
        for y in 0..<height {
            for x in 0..<width {
                let index = (y < height / 2 ? 0 : 2) + (x < width / 2 ? 0 : 1)
                rgba += quadrants[index] + [255]
            }
        }
        return PixelImage(width: width, height: height, rgba: rgba)
    }

    static func close(_ pixel: [UInt8], _ colour: [UInt8]) -> Bool {
        zip(pixel.prefix(3), colour).allSatisfy { abs(Int($0) - Int($1)) < 40 }
    }

    @Test("All 8 EXIF orientations come out upright", arguments: 1...8)
    func orientation(_ tag: Int) throws {
        let layout = try #require(Self.storedLayouts[tag])
        // Upright: 64 wide, 32 high (landscape), so a swap is visible in the dimensions.
        let stored = Self.quadrantImage(width: layout.swapped ? 32 : 64, height: layout.swapped ? 64 : 32, layout.quadrants)
        let jpeg = try stored.jpeg(quality: 95, orientation: tag)
        let header = try ImageHeader.read(jpeg)
        #expect(header.orientation == tag)
        #expect(header.width == 64 && header.height == 32)

        let image = try PixelImage.decode(jpeg, maxPixels: 1_000_000).0
        try image.orient(header.orientation)
        #expect(image.width == 64 && image.height == 32)
        let corners = [image.pixel(x: 8, y: 8), image.pixel(x: 56, y: 8), image.pixel(x: 8, y: 24), image.pixel(x: 56, y: 24)]
        let expected = [Self.red, Self.green, Self.blue, Self.white]
        for (corner, colour) in zip(corners, expected) {
            #expect(Self.close(corner, colour), "orientation \(tag): \(corner) should be \(colour)")
        }
    }

    @Test("The real photo tagged orientation 6 turns its dimensions")
    func photoOrientation() throws {
        let header = try ImageHeader.read(ImageFixtures.photo("dogs-window-exif6.jpg"))
        #expect(header.orientation == 6)
        #expect(header.storedWidth == 2400 && header.storedHeight == 1598)
        #expect(header.width == 1598 && header.height == 2400)
    }

    // MARK: ICC

    @Test("Display P3 and Adobe RGB sources are converted to sRGB", arguments: [ColourProfile.displayP3, .adobeRGB])
    func iccConversion(_ profile: ColourProfile) throws {
        let icc = profile.iccBytes
        #expect(icc.count > 100)
        let colour: [UInt8] = profile == .displayP3 ? [200, 100, 50] : [100, 200, 100]
        var rgba: [UInt8] = []
        for index in 0..<(16 * 16) { rgba += index < 128 ? colour + [255] : [128, 128, 128, 255] }
        let source = PixelImage(width: 16, height: 16, rgba: rgba)
        let jpeg = try source.jpeg(quality: 100, icc: icc)
        let (decoded, embedded) = try PixelImage.decode(jpeg, maxPixels: 1_000_000)
        let found = try #require(embedded)
        #expect(found == icc)
        try decoded.convertToSRGB(from: found)
        let converted = decoded.pixel(x: 4, y: 2)
        let grey = decoded.pixel(x: 4, y: 12)
        if profile == .displayP3 {
            // The same numbers mean a more saturated orange in P3: in sRGB red rises, green and blue fall.
            #expect(converted[0] >= 210 && converted[1] <= 96 && converted[2] <= 40, "\(converted)")
        } else {
            // Adobe RGB's green is wider still: sRGB red drops to (almost) nothing.
            #expect(converted[0] <= 20 && converted[1] >= 196, "\(converted)")
        }
        // Neutral grey stays neutral.
        #expect(abs(Int(grey[0]) - Int(grey[2])) <= 2 && abs(Int(grey[0]) - 128) <= 3, "\(grey)")
    }

    @Test("A broken ICC profile is an error, not a crash")
    func brokenProfile() throws {
        let image = PixelImage(width: 1, height: 1, rgba: [1, 2, 3, 255])
        #expect(throws: CodecError.self) { try image.convertToSRGB(from: Array("not a profile at all".utf8)) }
    }
}
