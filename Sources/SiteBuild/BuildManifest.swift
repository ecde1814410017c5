import Crypto
import Foundation
import ShopCore

/// What the last build wrote, and from what: each output's path and the digest of every input
/// that went into it. Kept inside the published folder (it is replaced with the site), so the
/// next build of that folder knows which pages it may take over as they are.
struct BuildManifest: Codable, Equatable {
    static let fileName = ".ishop-manifest.json"
    /// Bumped when ishop renders differently, so an old manifest never vouches for new output.
    static let formatVersion = 1

    var version = formatVersion
    /// Relative output path -> digest of its inputs.
    var pages: [String: String] = [:]

    /// The manifest of the published folder, or an empty one (first build, other version, unreadable).
    static func load(publishPath: String) -> BuildManifest {
        guard let data = FileManager.default.contents(atPath: "\(publishPath)/\(fileName)"),
              let manifest = try? JSONDecoder().decode(BuildManifest.self, from: data),
              manifest.version == formatVersion
        else { return BuildManifest() }
        return manifest
    }

    func encoded() throws -> Data {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        return try encoder.encode(self)
    }
}

/// Digests of the inputs of pages, so an unchanged page is recognised without rendering it.
struct PageDigests {
    /// Everything every product page depends on besides its product: templates, settings, the
    /// shared header and footer.
    let shared: String
    private let encoder: JSONEncoder

    init(theme: Theme, config: SiteConfig, fragments: [String], stylesheet: String) throws {
        var hash = SHA256()
        func add(_ text: String) {
            hash.update(data: Data(text.utf8))
            hash.update(data: Data([0]))  // a separator, so "ab"+"c" differs from "a"+"bc"
        }
        add("ishop-build-\(BuildManifest.formatVersion)")
        for (name, path) in theme.templateFiles.sorted(by: { $0.key < $1.key }) {
            add(name)
            add((try? String(contentsOfFile: path, encoding: .utf8)) ?? "")
        }
        for setting in [config.title, config.tagline, config.baseURL.absoluteString, config.currency.code, config.locale,
                        "\(config.precompress)", "\(config.pageSize)", stylesheet]
        {
            add(setting)
        }
        fragments.forEach(add)
        shared = Self.hex(hash.finalize())
        encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
    }

    /// A product page's digest: the shared inputs, the product itself and its breadcrumb trail.
    func productPage(_ product: Product, trail: [Crumb]) throws -> String {
        var hash = SHA256()
        hash.update(data: Data(shared.utf8))
        hash.update(data: try encoder.encode(product))
        for crumb in trail { hash.update(data: Data("\u{0}\(crumb.title)\u{0}\(crumb.path)".utf8)) }
        return Self.hex(hash.finalize())
    }

    /// Lower-case hex by table: String(format:) per byte cost more than the hashing itself.
    static func hex(_ digest: some Sequence<UInt8>) -> String {
        let digits = Array("0123456789abcdef".utf8)
        var bytes: [UInt8] = []
        bytes.reserveCapacity(64)
        for byte in digest {
            bytes.append(digits[Int(byte >> 4)])
            bytes.append(digits[Int(byte & 0x0F)])
        }
        return String(decoding: bytes, as: UTF8.self)
    }
}
