import Foundation
import ShopCore

/// Makes one source's responsive set: decode once, upright, sRGB, resize in a cascade, encode.
struct ImageRenderer {
    let settings: SiteConfig.ImageSettings

    struct Output {
        var set: ImageSet
        /// File name (under img/) → bytes.
        var files: [(name: String, bytes: [UInt8])]
    }

    /// Everything that changes the pixels or bytes written; part of every content-addressed name.
    var parameterTag: String {
        "v1 widths=\(settings.widths.map(String.init).joined(separator: ",")) q=\(settings.quality) m=\(settings.method) fallback=\(settings.fallbackWidth)"
    }

    /// The smallest DCT scale 1/8, 1/4, 1/2 or 1 whose output still leaves `largest` at least
    /// 2x headroom, so Lanczos has real detail to work from.
    static func scaleDenominator(for header: ImageHeader, largest: Int) -> Int {
        guard header.format == .jpeg else { return 1 }
        for denominator in [8, 4, 2] {
            let scaledWidth = (header.width + denominator - 1) / denominator
            if scaledWidth >= 2 * largest { return denominator }
        }
        return 1
    }

    /// The WebP widths for a source `width` wide: the configured ones it can give without
    /// upscaling, or its own width when it is narrower than every configured one.
    static func widths(configured: [Int], sourceWidth: Int) -> [Int] {
        let fitting = configured.filter { $0 <= sourceWidth }
        return fitting.isEmpty ? [sourceWidth] : fitting.sorted()
    }

    func render(_ bytes: [UInt8], key: String, alt: String, source: String) throws -> Output {
        let header = try ImageHeader.read(bytes)
        guard header.pixelCount <= settings.maxPixels else {
            throw CodecError(kind: .tooLarge, message: "\(header.storedWidth)x\(header.storedHeight) pixels is more than the \(settings.maxPixels) allowed (images.maxPixels)")
        }
        let webpWidths = Self.widths(configured: settings.widths, sourceWidth: header.width)
        let fallbackWidth = min(settings.fallbackWidth, header.width)
        let largest = max(webpWidths.last ?? fallbackWidth, fallbackWidth)

        let (decoded, icc) = try PixelImage.decode(
            bytes, scaleDenominator: Self.scaleDenominator(for: header, largest: largest), maxPixels: settings.maxPixels)
        if let icc {
            // A profile Little CMS cannot use (grey, CMYK, broken) leaves the pixels as they are:
            // better a slightly-off colour than no picture.
            try? decoded.convertToSRGB(from: icc)
        }
        try decoded.orient(header.orientation)
        let opaque = header.mayHaveAlpha ? decoded.isOpaque : true

        // Largest first, each from the previous result (a cascade): every step shrinks by at
        // most the ratio between neighbouring widths, which Lanczos-3 handles without aliasing.
        let allWidths = Set(webpWidths + [fallbackWidth]).sorted(by: >)
        var previous = decoded
        var files: [(name: String, bytes: [UInt8])] = []
        var webp: [ImageSet.Variant] = []
        var fallback: ImageSet.Variant?
        var smallest = decoded
        for width in allWidths {
            let height = max(1, Int((Double(decoded.height) * Double(width) / Double(decoded.width)).rounded()))
            let pixels: PixelImage
            if width == previous.width && height == previous.height {
                pixels = previous
            } else {
                pixels = try previous.resized(width: width, height: height, opaque: opaque)
            }
            if webpWidths.contains(width) {
                let encoded = try pixels.webp(quality: settings.quality, method: settings.method, keepAlpha: !opaque)
                let name = "\(key)-\(width).webp"
                files.append((name, encoded))
                webp.append(.init(file: "img/" + name, width: width, height: height, bytes: encoded.count))
            }
            if width == fallbackWidth {
                let encoded = try opaque ? pixels.jpeg(quality: settings.quality) : pixels.png(keepAlpha: true)
                let name = "\(key)-\(width).\(opaque ? "jpg" : "png")"
                files.append((name, encoded))
                fallback = .init(file: "img/" + name, width: width, height: height, bytes: encoded.count)
            }
            previous = pixels
            smallest = pixels
        }
        let (placeholder, dominant) = try Self.placeholder(from: smallest, opaque: opaque)
        guard let fallback else { throw CodecError(kind: .argument, message: "no fallback width") }
        let set = ImageSet(
            source: source, alt: alt, webp: webp.sorted { $0.width < $1.width }, fallback: fallback,
            width: fallback.width, height: fallback.height, placeholder: placeholder,
            dominantColour: dominant, sourceBytes: bytes.count
        )
        return Output(set: set, files: files)
    }

    /// A 16-pixel-wide WebP, box-blurred, as a data: URI, and the dominant colour.
    static func placeholder(from image: PixelImage, opaque: Bool) throws -> (String, String) {
        let width = min(16, image.width)
        let height = max(1, Int((Double(image.height) * Double(width) / Double(image.width)).rounded()))
        let tiny = try image.resized(width: width, height: height, opaque: opaque)
        let pixels = tiny.rgba
        let dominant = dominantColour(pixels)
        let blurred = PixelImage(width: width, height: height, rgba: boxBlur(pixels, width: width, height: height))
        let webp = try blurred.webp(quality: 40, method: 4, keepAlpha: !opaque)
        return ("data:image/webp;base64," + Data(webp).base64EncodedString(), dominant)
    }

    /// 3x3 box blur, edges clamped: the placeholder should read as colour, not detail.
    static func boxBlur(_ pixels: [UInt8], width: Int, height: Int) -> [UInt8] {
        var out = pixels
        for y in 0..<height {
            for x in 0..<width {
                for channel in 0..<4 {
                    var total = 0
                    for dy in -1...1 {
                        for dx in -1...1 {
                            let sx = min(max(x + dx, 0), width - 1), sy = min(max(y + dy, 0), height - 1)
                            total += Int(pixels[(sy * width + sx) * 4 + channel])
                        }
                    }
                    out[(y * width + x) * 4 + channel] = UInt8(total / 9)
                }
            }
        }
        return out
    }

    /// The most common colour, in buckets of 3 bits per channel weighted by alpha, averaged
    /// within its bucket: a background that matches the photo while it loads.
    static func dominantColour(_ pixels: [UInt8]) -> String {
        var counts = [Int](repeating: 0, count: 512)
        var sums = [[Int]](repeating: [0, 0, 0], count: 512)
        for index in stride(from: 0, to: pixels.count, by: 4) {
            let alpha = Int(pixels[index + 3])
            guard alpha > 0 else { continue }
            let r = Int(pixels[index]), g = Int(pixels[index + 1]), b = Int(pixels[index + 2])
            let bucket = (r >> 5) << 6 | (g >> 5) << 3 | (b >> 5)
            counts[bucket] += alpha
            sums[bucket][0] += r * alpha
            sums[bucket][1] += g * alpha
            sums[bucket][2] += b * alpha
        }
        guard let best = counts.indices.max(by: { counts[$0] < counts[$1] }), counts[best] > 0 else { return "#d9d9d9" }
        let average = sums[best].map { $0 / counts[best] }
        return "#" + average.map { String(format: "%02x", $0) }.joined()
    }
}

extension CodecError {
    init(kind: Kind, message: String) {
        self.kind = kind
        self.message = message
    }
}
