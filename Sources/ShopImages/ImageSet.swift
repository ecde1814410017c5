import Foundation

/// One product image as the catalog names it: an http(s) URL (Shopify's Image Src) or a path
/// relative to the site folder.
public struct ImageSource: Sendable, Hashable {
    public var reference: String
    public var alt: String

    public init(_ reference: String, alt: String = "") {
        self.reference = reference
        self.alt = alt
    }

    var isRemote: Bool {
        let lower = reference.lowercased()
        return lower.hasPrefix("http://") || lower.hasPrefix("https://")
    }
}

/// The responsive set made from one source: what the `picture` partial needs.
public struct ImageSet: Sendable, Equatable, Codable {
    public struct Variant: Sendable, Equatable, Codable {
        /// Path under the publish folder, e.g. "img/3f9a…-640.webp".
        public var file: String
        public var width: Int
        public var height: Int
        public var bytes: Int
    }

    public var source: String
    public var alt: String
    /// WebP at each configured width the source can give, smallest first. Empty when the source
    /// could not be had: then only the placeholder shows, never a broken image.
    public var webp: [Variant]
    /// JPEG, or PNG when the source has transparency; nil when the source could not be had.
    public var fallback: Variant?
    /// Intrinsic size for `width`/`height` (the fallback's), so the page does not shift.
    public var width: Int
    public var height: Int
    /// A tiny blurred WebP as a data: URI, shown until the real picture arrives.
    public var placeholder: String
    /// "#rrggbb".
    public var dominantColour: String
    /// The source's size in bytes (0 when it could not be had).
    public var sourceBytes: Int

    public var isPlaceholderOnly: Bool { fallback == nil }

    /// `srcset` for the WebP `<source>`, with `prefix` before each file ("/" or the site's base path).
    public func srcset(prefix: String = "/") -> String {
        webp.map { "\(prefix)\($0.file) \($0.width)w" }.joined(separator: ", ")
    }

    /// The data the `picture` partial renders (`eager` for the first image of a product page).
    public func templateData(prefix: String = "/", sizes: String = "100vw", eager: Bool = false) -> [String: Any] {
        var data: [String: Any] = [
            "alt": alt, "width": width, "height": height, "placeholder": placeholder,
            "dominantColour": dominantColour, "sizes": sizes, "eager": eager,
        ]
        if let fallback {
            data["src"] = prefix + fallback.file
            data["srcset"] = srcset(prefix: prefix)
        } else {
            data["src"] = placeholder
            data["missing"] = true
        }
        return data
    }

    /// What stands in for a source that could not be had: a neutral grey 4:3 box.
    static func standIn(for source: ImageSource) -> ImageSet {
        ImageSet(source: source.reference, alt: source.alt, webp: [], fallback: nil, width: 1024, height: 768,
                 placeholder: standInPlaceholder, dominantColour: "#d9d9d9", sourceBytes: 0)
    }

    static let standInPlaceholder =
        "data:image/svg+xml;base64," + Data(##"<svg xmlns="http://www.w3.org/2000/svg" width="4" height="3"><rect width="4" height="3" fill="#d9d9d9"/></svg>"##.utf8).base64EncodedString()
}

/// A source that could not be had, told the way the shop owner fixes it.
public struct ImageWarning: Sendable, Equatable, CustomStringConvertible {
    public var source: String
    public var message: String
    public var description: String { "\(source): \(message)" }
}

/// The outcome of the image stage.
public struct ImageReport: Sendable {
    /// Per source reference (URL or path as given).
    public var sets: [String: ImageSet] = [:]
    /// Sources decoded and encoded in this run.
    public var processed = 0
    /// Sources whose outputs came from the cache without decoding.
    public var cached = 0
    /// Sources that became a placeholder.
    public var failed = 0
    /// Source bytes minus the bytes of the largest WebP, summed: what a shopper no longer downloads.
    public var bytesSaved = 0
    /// Remote sources served from the on-disk cache because the origin failed or we are offline.
    public var staleRemote = 0
    /// Local sources whose bytes were read and hashed; a warm build whose files did not change
    /// reads none (they are known by size, modification time and inode).
    public var localSourcesRead = 0
    public var warnings: [ImageWarning] = []

    public var summary: String {
        "images: \(processed) processed, \(cached) cached, \(failed) failed, \(ByteCountFormatter.string(fromByteCount: Int64(bytesSaved), countStyle: .file)) saved"
    }
}

/// Where the image stage is, for a progress line.
public struct ImageProgress: Sendable {
    public var done: Int
    public var total: Int
}

public enum ImagePipelineError: Error, CustomStringConvertible {
    /// Strict mode: every warning fails the build.
    case strict([ImageWarning])
    case cache(String)

    public var description: String {
        switch self {
        case .strict(let warnings):
            "images: \(warnings.count) source(s) could not be had (strict mode):\n" + warnings.map { "  \($0)" }.joined(separator: "\n")
        case .cache(let message): "images: \(message)"
        }
    }
}
