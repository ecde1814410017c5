import Foundation
import ShopCore
import ShopImport
import ShopStore
import ShopTestSupport
import SiteBuild
import Testing

/// A copy of the repository's example shop (site.yml, content/, themes/, static/) in a temporary
/// folder, with its own SQLite store, so the repository's public/ and database are never touched.
struct ExampleShop {
    let folder: TemporaryFolder
    /// The copied site folder (holds site.yml).
    let site: String
    let config: SiteConfig
    let store: SQLiteStore

    /// The publish folder every test builds into: `<site>/public`, as site.yml says.
    var output: String { "\(site)/public" }

    /// Copies the example shop and, unless told not to, imports catalog/products.csv into its store.
    static func make(importCatalog: Bool = true) async throws -> ExampleShop {
        let folder = try TemporaryFolder("sitebuild")
        do {
            let fileManager = FileManager.default
            let site = folder.file("site")
            try fileManager.createDirectory(atPath: site, withIntermediateDirectories: true)
            for item in ["site.yml", "content", "themes", "static"] {
                try fileManager.copyItem(atPath: Repository.path(item), toPath: "\(site)/\(item)")
            }
            let config = try SiteConfig.load(path: "\(site)/site.yml")
            let databasePath = config.resolve(config.database)
            try fileManager.createDirectory(
                atPath: (databasePath as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
            let store = try SQLiteStore(path: databasePath)
            if importCatalog {
                _ = try await ShopifyImporter(store: store, currency: config.currency)
                    .importFiles([Repository.exampleCatalog])
            }
            return ExampleShop(folder: folder, site: site, config: config, store: store)
        } catch {
            folder.remove()
            throw error
        }
    }

    func build() async throws -> SiteBuilder.Report {
        try await SiteBuilder(config: config, store: store).build(outputDirectory: output)
    }

    func build(into outputDirectory: String) async throws -> SiteBuilder.Report {
        try await SiteBuilder(config: config, store: store).build(outputDirectory: outputDirectory)
    }

    /// Writes a file of the site (creating its folders), e.g. `layouts/404.mustache`.
    func write(_ relative: String, _ text: String) throws {
        let path = "\(site)/\(relative)"
        try FileManager.default.createDirectory(
            atPath: (path as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
        try Data(text.utf8).write(to: URL(fileURLWithPath: path))
    }

    /// A published file's text, or nil when it does not exist.
    func page(_ relative: String) -> String? { readText("\(output)/\(relative)") }

    func remove() { folder.remove() }
}

func readText(_ path: String) -> String? {
    FileManager.default.contents(atPath: path).flatMap { String(data: $0, encoding: .utf8) }
}

func fileExists(_ path: String) -> Bool {
    FileManager.default.fileExists(atPath: path)
}

func isDirectory(_ path: String) -> Bool {
    var isDirectory: ObjCBool = false
    return FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) && isDirectory.boolValue
}

/// Every folder and regular file under `root`, keyed by relative path (folders end in "/" and map
/// to empty data). Paths starting with any of `skipping` are left out.
func snapshot(_ root: String, skipping: [String] = []) -> [String: Data] {
    var result: [String: Data] = [:]
    guard let enumerator = FileManager.default.enumerator(atPath: root) else { return result }
    while let relative = enumerator.nextObject() as? String {
        if skipping.contains(where: { relative == $0 || relative.hasPrefix("\($0)/") }) { continue }
        let path = "\(root)/\(relative)"
        let type = (try? FileManager.default.attributesOfItem(atPath: path))?[.type] as? FileAttributeType
        if type == .typeDirectory {
            result["\(relative)/"] = Data()
        } else {
            result[relative] = FileManager.default.contents(atPath: path) ?? Data("<unreadable>".utf8)
        }
    }
    return result
}

/// Relative paths of the regular files under `root` (none if it does not exist).
func regularFiles(under root: String) -> Set<String> {
    var result: Set<String> = []
    guard isDirectory(root), let enumerator = FileManager.default.enumerator(atPath: root) else { return result }
    while let relative = enumerator.nextObject() as? String {
        let type = (try? FileManager.default.attributesOfItem(atPath: "\(root)/\(relative)"))?[.type] as? FileAttributeType
        if type == .typeRegular { result.insert(relative) }
    }
    return result
}

/// What Mustache's `{{value}}` makes of text (swift-mustache escapes these five characters).
func htmlEscaped(_ text: String) -> String {
    var out = ""
    for character in text {
        switch character {
        case "&": out += "&amp;"
        case "<": out += "&lt;"
        case ">": out += "&gt;"
        case "\"": out += "&quot;"
        case "'": out += "&#39;"
        default: out.append(character)
        }
    }
    return out
}

/// The stylesheet URL a page links to (`<link rel="stylesheet" href="...">`), if any.
func stylesheetHref(in html: String) -> String? {
    guard let start = html.range(of: #"<link rel="stylesheet" href=""#) else { return nil }
    let rest = html[start.upperBound...]
    guard let end = rest.firstIndex(of: "\"") else { return nil }
    return String(rest[..<end])
}

/// What the example catalog says, read straight from the CSV.
struct ExampleCatalogFacts {
    /// Handles whose first row does not say Published = false.
    var publishedHandles: Set<String> = []
    var unpublishedHandles: Set<String> = []
    /// SKUs written in the CSV (rows with an empty SKU get a generated one, not listed here).
    var explicitSKUs: [String: [String]] = [:]

    static func load() throws -> ExampleCatalogFacts {
        let text = try #require(readText(Repository.exampleCatalog))
        let rows = TestCSV.rows(text)
        let header = try #require(rows.first)
        let handleColumn = try #require(header.firstIndex(of: "Handle"))
        let publishedColumn = try #require(header.firstIndex(of: "Published"))
        let skuColumn = try #require(header.firstIndex(of: "Variant SKU"))
        var facts = ExampleCatalogFacts()
        var seen: Set<String> = []
        for row in rows.dropFirst() where row.count > max(handleColumn, publishedColumn, skuColumn) {
            let handle = row[handleColumn]
            if seen.insert(handle).inserted {
                if row[publishedColumn].trimmingCharacters(in: .whitespaces).lowercased() == "false" {
                    facts.unpublishedHandles.insert(handle)
                } else {
                    facts.publishedHandles.insert(handle)
                }
            }
            let sku = row[skuColumn].trimmingCharacters(in: .whitespaces)
            if !sku.isEmpty { facts.explicitSKUs[handle, default: []].append(sku) }
        }
        return facts
    }
}
