import CImageCodecs
import Foundation

/// Why the codecs refused an image, with libjpeg's or libpng's own words.
public struct CodecError: Error, Equatable, CustomStringConvertible, Sendable {
    public enum Kind: Sendable, Equatable {
        case notAnImage, corrupt, tooLarge, memory, encode, colour, argument
    }
    public var kind: Kind
    public var message: String
    public var description: String { message }

    init(status: Int32, message: ishop_message) {
        switch status {
        case Int32(ISHOP_ERROR_FORMAT): kind = .notAnImage
        case Int32(ISHOP_ERROR_TOO_LARGE): kind = .tooLarge
        case Int32(ISHOP_ERROR_MEMORY): kind = .memory
        case Int32(ISHOP_ERROR_ENCODE): kind = .encode
        case Int32(ISHOP_ERROR_COLOR): kind = .colour
        case Int32(ISHOP_ERROR_ARGUMENT): kind = .argument
        default: kind = .corrupt
        }
        self.message = Self.text(message)
    }

    /// C `char[N]` imports as a tuple: read it up to the first NUL.
    static func text(_ message: ishop_message) -> String {
        withUnsafeBytes(of: message.text) { String(decoding: $0.prefix(while: { $0 != 0 }), as: UTF8.self) }
    }
}

/// What a source's header says, read without decoding pixels.
public struct ImageHeader: Sendable, Equatable {
    public enum Format: Sendable { case jpeg, png, webp }
    public var format: Format
    /// As stored, before the EXIF orientation is applied.
    public var storedWidth: Int
    public var storedHeight: Int
    public var mayHaveAlpha: Bool
    /// EXIF orientation, 1...8.
    public var orientation: Int

    /// The upright size, as a shopper sees it.
    public var width: Int { orientation >= 5 ? storedHeight : storedWidth }
    public var height: Int { orientation >= 5 ? storedWidth : storedHeight }
    public var pixelCount: Int { storedWidth * storedHeight }

    public static func read(_ bytes: [UInt8]) throws -> ImageHeader {
        var info = ishop_info()
        var message = ishop_message()
        let status = bytes.withUnsafeBufferPointer { ishop_probe($0.baseAddress, $0.count, &info, &message) }
        guard status == Int32(ISHOP_OK) else { throw CodecError(status: status, message: message) }
        return ImageHeader(
            format: info.format == Int32(ISHOP_FORMAT_PNG) ? .png : info.format == Int32(ISHOP_FORMAT_WEBP) ? .webp : .jpeg,
            storedWidth: Int(info.width), storedHeight: Int(info.height),
            mayHaveAlpha: info.may_have_alpha != 0, orientation: Int(info.orientation)
        )
    }
}

/// 8-bit RGBA pixels owned by the C side; freed when the last reference goes.
/// Not Sendable: one image is worked on by one task from decode to encode.
public final class PixelImage {
    fileprivate(set) var raw: ishop_image

    init(taking raw: ishop_image) { self.raw = raw }
    deinit { ishop_image_free(&raw) }

    public var width: Int { Int(raw.width) }
    public var height: Int { Int(raw.height) }

    /// Blank RGBA pixels, for building test inputs.
    public convenience init(width: Int, height: Int, rgba: [UInt8]) {
        precondition(rgba.count == width * height * 4, "RGBA needs 4 bytes per pixel")
        // The C side frees with free(), so the pixels come from malloc.
        let copy = malloc(max(rgba.count, 4))!.assumingMemoryBound(to: UInt8.self)
        rgba.withUnsafeBufferPointer { copy.update(from: $0.baseAddress!, count: rgba.count) }
        self.init(taking: ishop_image(pixels: copy, width: UInt32(width), height: UInt32(height)))
    }

    /// The pixel at (x, y) as [r, g, b, a].
    public func pixel(x: Int, y: Int) -> [UInt8] {
        let offset = (y * width + x) * 4
        return (0..<4).map { raw.pixels[offset + $0] }
    }

    public var rgba: [UInt8] { Array(UnsafeBufferPointer(start: raw.pixels, count: width * height * 4)) }

    public var isOpaque: Bool { withUnsafePointer(to: raw) { ishop_is_opaque($0) != 0 } }

    /// Decodes a JPEG (DCT-downscaled by 1/scaleDenominator) or PNG, refusing more than
    /// maxPixels before allocating. Returns the pixels and the embedded ICC profile, if any.
    public static func decode(_ bytes: [UInt8], scaleDenominator: Int = 1, maxPixels: Int) throws -> (PixelImage, icc: [UInt8]?) {
        var image = ishop_image()
        var message = ishop_message()
        var icc: UnsafeMutablePointer<UInt8>?
        var iccSize = 0
        let status = bytes.withUnsafeBufferPointer {
            ishop_decode($0.baseAddress, $0.count, UInt32(scaleDenominator), UInt64(maxPixels), &image, &icc, &iccSize, &message)
        }
        guard status == Int32(ISHOP_OK) else { throw CodecError(status: status, message: message) }
        var profile: [UInt8]?
        if let icc {
            profile = Array(UnsafeBufferPointer(start: icc, count: iccSize))
            ishop_free(icc)
        }
        return (PixelImage(taking: image), profile)
    }

    /// libwebp's own decoder, to check what was written.
    public static func decodeWebP(_ bytes: [UInt8]) throws -> PixelImage {
        var image = ishop_image()
        var message = ishop_message()
        let status = bytes.withUnsafeBufferPointer { ishop_decode_webp($0.baseAddress, $0.count, &image, &message) }
        guard status == Int32(ISHOP_OK) else { throw CodecError(status: status, message: message) }
        return PixelImage(taking: image)
    }

    /// Turns the pixels upright for an EXIF orientation (1...8).
    public func orient(_ orientation: Int) throws {
        var message = ishop_message()
        let status = ishop_orient(&raw, Int32(orientation), &message)
        guard status == Int32(ISHOP_OK) else { throw CodecError(status: status, message: message) }
    }

    /// Converts from the colour space of an RGB ICC profile to sRGB, in place.
    public func convertToSRGB(from profile: [UInt8]) throws {
        var message = ishop_message()
        let status = profile.withUnsafeBufferPointer { ishop_convert_to_srgb(&raw, $0.baseAddress, $0.count, &message) }
        guard status == Int32(ISHOP_OK) else { throw CodecError(status: status, message: message) }
    }

    /// Lanczos-3, alpha premultiplied while filtering (skipped for opaque pixels).
    public func resized(width: Int, height: Int, opaque: Bool) throws -> PixelImage {
        var out = ishop_image()
        var message = ishop_message()
        let status = withUnsafePointer(to: raw) { ishop_resize($0, UInt32(width), UInt32(height), opaque ? 1 : 0, &out, &message) }
        guard status == Int32(ISHOP_OK) else { throw CodecError(status: status, message: message) }
        return PixelImage(taking: out)
    }

    public func webp(quality: Int, method: Int, keepAlpha: Bool) throws -> [UInt8] {
        try encoded { raw, out, size, message in
            ishop_encode_webp(raw, keepAlpha ? 1 : 0, Float(quality), Int32(method), out, size, message)
        }
    }

    /// JPEG; orientation and icc are only for building test inputs (the pipeline strips metadata).
    public func jpeg(quality: Int, orientation: Int = 0, icc: [UInt8]? = nil) throws -> [UInt8] {
        let profile = icc ?? []
        return try profile.withUnsafeBufferPointer { iccBuffer in
            try encoded { raw, out, size, message in
                ishop_encode_jpeg(raw, Int32(quality), Int32(orientation), iccBuffer.baseAddress, iccBuffer.count, out, size, message)
            }
        }
    }

    public func png(keepAlpha: Bool) throws -> [UInt8] {
        try encoded { raw, out, size, message in ishop_encode_png(raw, keepAlpha ? 1 : 0, out, size, message) }
    }

    private func encoded(
        _ encode: (UnsafePointer<ishop_image>, UnsafeMutablePointer<UnsafeMutablePointer<UInt8>?>,
                   UnsafeMutablePointer<Int>, UnsafeMutablePointer<ishop_message>) -> Int32
    ) throws -> [UInt8] {
        var out: UnsafeMutablePointer<UInt8>?
        var size = 0
        var message = ishop_message()
        let status = withUnsafePointer(to: raw) { encode($0, &out, &size, &message) }
        guard status == Int32(ISHOP_OK), let out else { throw CodecError(status: status, message: message) }
        defer { ishop_free(out) }
        return Array(UnsafeBufferPointer(start: out, count: size))
    }
}

/// Standard RGB profiles built by Little CMS (tests embed them in generated sources).
public enum ColourProfile: Sendable {
    case sRGB, displayP3, adobeRGB

    public var iccBytes: [UInt8] {
        let which: Int32 = switch self {
        case .sRGB: Int32(ISHOP_PROFILE_SRGB)
        case .displayP3: Int32(ISHOP_PROFILE_DISPLAY_P3)
        case .adobeRGB: Int32(ISHOP_PROFILE_ADOBE_RGB)
        }
        var out: UnsafeMutablePointer<UInt8>?
        var size = 0
        guard ishop_make_profile(which, &out, &size) == Int32(ISHOP_OK), let out else { return [] }
        defer { ishop_free(out) }
        return Array(UnsafeBufferPointer(start: out, count: size))
    }
}
