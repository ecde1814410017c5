import Foundation

/// Stylesheets and scripts get their content hash in the file name (`css/shop.3f9a1c0b2e.css`,
/// `js/stock.0b2e3f9a1c.js`), so Nginx can tell browsers to cache them forever and a changed file
/// is a new URL. Templates reach them only through `{{assets.css}}` and `{{assets.stockScript}}`,
/// never by a hard-coded name.
struct FingerprintedAssets {
    struct Asset {
        var path: String
        var bytes: [UInt8]
    }

    /// Original relative path -> the renamed file.
    let fingerprinted: [String: Asset]

    static func shouldFingerprint(_ relative: String) -> Bool {
        (relative.hasPrefix("css/") && relative.hasSuffix(".css")) || (relative.hasPrefix("js/") && relative.hasSuffix(".js"))
    }

    init(staticFiles: [String: String]) throws {
        var fingerprinted: [String: Asset] = [:]
        for (relative, source) in staticFiles where Self.shouldFingerprint(relative) {
            guard let data = FileManager.default.contents(atPath: source) else {
                throw BuildError(.theme, file: source, "cannot be read")
            }
            let bytes = [UInt8](data)
            let hash = String(Self.fnv1a64(bytes), radix: 16)
            let padded = String(repeating: "0", count: 16 - hash.count) + hash
            let suffix = relative.hasSuffix(".css") ? ".css" : ".js"
            let stem = relative.dropLast(suffix.count)
            fingerprinted[relative] = Asset(path: "\(stem).\(padded.prefix(10))\(suffix)", bytes: bytes)
        }
        self.fingerprinted = fingerprinted
    }

    /// Root-relative URL of an asset, if the theme or site has it.
    func url(of relative: String) -> String? {
        fingerprinted[relative].map { "/\($0.path)" }
    }

    /// FNV-1a: a fast content hash for cache busting (not a security boundary).
    static func fnv1a64(_ bytes: [UInt8]) -> UInt64 {
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        for byte in bytes {
            hash ^= UInt64(byte)
            hash = hash &* 0x0000_0100_0000_01b3
        }
        return hash
    }
}
