import Foundation
import ShopCore
import ShopImport
import ShopStore
import Testing

/// Where the repository and the shared fixtures are, found from this file's own path
/// (Tests/ShopImportTests/Support.swift), so tests work from any working directory.
enum Paths {
    static var repositoryRoot: URL {
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    }

    static var sharedFixtures: URL {
        repositoryRoot.deletingLastPathComponent().appendingPathComponent("shared/fixtures")
    }

    static var shopifyFixtures: URL { sharedFixtures.appendingPathComponent("shopify") }

    static func shopifyFixture(_ name: String) -> String { shopifyFixtures.appendingPathComponent(name).path }

    /// The example shop's catalog.
    static var exampleCatalog: String { repositoryRoot.appendingPathComponent("catalog/products.csv").path }

    /// Every *.csv in the shared Shopify fixtures folder, sorted (empty if the folder is missing).
    static func shopifyFixtureNames() -> [String] {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: shopifyFixtures.path)) ?? []
        return names.filter { $0.hasSuffix(".csv") }.sorted()
    }
}

/// A fresh folder under the system's temporary folder; call `remove()` in a `defer`.
struct TemporaryDirectory {
    let path: String

    init() throws {
        path = (NSTemporaryDirectory() as NSString).appendingPathComponent("ishop-import-tests-\(UUID().uuidString)")
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    }

    func file(_ name: String) -> String { (path as NSString).appendingPathComponent(name) }

    /// Writes `text` (UTF-8) to a file of this folder and returns its path.
    @discardableResult
    func write(_ name: String, _ text: String) throws -> String {
        let target = file(name)
        try Data(text.utf8).write(to: URL(fileURLWithPath: target))
        return target
    }

    func write(_ name: String, bytes: [UInt8]) throws -> String {
        let target = file(name)
        try Data(bytes).write(to: URL(fileURLWithPath: target))
        return target
    }

    func remove() { try? FileManager.default.removeItem(atPath: path) }
}

/// A fresh SQLite store in its own temporary folder, with a USD importer on it.
struct ImportFixture {
    let directory: TemporaryDirectory
    let store: SQLiteStore
    let importer: ShopifyImporter

    static func make(currency: String = "USD") throws -> ImportFixture {
        let directory = try TemporaryDirectory()
        let store = try SQLiteStore(path: directory.file("shop.sqlite"))
        return ImportFixture(directory: directory, store: store, importer: ShopifyImporter(store: store, currency: Currency(code: currency)!))
    }

    func catalog() async throws -> [Product] { try await store.catalog(includeUnpublished: true) }

    func remove() { directory.remove() }
}

/// Shopify product CSVs written by the tests, one row per line, so that row N is on line N + 1.
enum ShopCSV {
    static let columns = [
        "Handle", "Title", "Body (HTML)", "Vendor", "Type", "Tags", "Published",
        "Option1 Name", "Option1 Value", "Option2 Name", "Option2 Value", "Option3 Name", "Option3 Value",
        "Variant SKU", "Variant Grams", "Variant Inventory Qty", "Variant Inventory Policy", "Variant Price",
        "Variant Compare At Price", "Variant Requires Shipping", "Variant Taxable", "Variant Barcode",
        "Image Src", "Image Position", "Image Alt Text", "SEO Title", "SEO Description", "Variant Image",
        "Variant Weight Unit", "Status",
    ]

    static var header: String { columns.joined(separator: ",") }

    static func quote(_ value: String) -> String {
        guard value.contains(where: { $0 == "," || $0 == "\"" || $0 == "\n" || $0 == "\r" || $0 == "\r\n" }) else { return value }
        return "\"" + value.replacingOccurrences(of: "\"", with: "\"\"") + "\""
    }

    static func row(_ values: [String: String]) -> String {
        for key in values.keys where !columns.contains(key) {
            Issue.record("ShopCSV has no column \"\(key)\"")
        }
        return columns.map { quote(values[$0] ?? "") }.joined(separator: ",")
    }

    static func file(_ rows: [[String: String]]) -> String {
        ([header] + rows.map(row)).joined(separator: "\n") + "\n"
    }
}

/// A deliberately separate, minimal CSV reading used to compute expected counts without the code under test:
/// quotes, doubled quotes, newlines inside quotes, CRLF, a byte order mark, blank lines skipped.
enum IndependentCSV {
    static func rows(_ text: String) -> [[String]] {
        var scalars = Array(text.unicodeScalars)
        if scalars.first == "\u{FEFF}" { scalars.removeFirst() }
        var rows: [[String]] = []
        var row: [String] = []
        var field = String.UnicodeScalarView()
        var inQuotes = false
        var rowStarted = false
        var index = 0
        while index < scalars.count {
            let scalar = scalars[index]
            index += 1
            if inQuotes {
                if scalar == "\"" {
                    if index < scalars.count && scalars[index] == "\"" {
                        field.append("\"")
                        index += 1
                    } else {
                        inQuotes = false
                    }
                } else {
                    field.append(scalar)
                }
                continue
            }
            switch scalar {
            case "\"":
                inQuotes = true
                rowStarted = true
            case ",":
                row.append(String(field))
                field = String.UnicodeScalarView()
                rowStarted = true
            case "\r":
                continue
            case "\n":
                if rowStarted || !field.isEmpty {
                    row.append(String(field))
                    rows.append(row)
                }
                row = []
                field = String.UnicodeScalarView()
                rowStarted = false
            default:
                field.append(scalar)
                rowStarted = true
            }
        }
        if rowStarted || !field.isEmpty {
            row.append(String(field))
            rows.append(row)
        }
        return rows
    }

    /// What a Shopify CSV holds, counted the simple way: products are distinct Handles, variants are rows
    /// with a Variant Price, images are distinct (Handle, Image Src) pairs.
    struct Counts {
        var records = 0
        var handles: [String] = []
        var variantsByHandle: [String: Int] = [:]
        var imagesByHandle: [String: Set<String>] = [:]

        var products: Int { handles.count }
        var variants: Int { variantsByHandle.values.reduce(0, +) }
        var images: Int { imagesByHandle.values.reduce(0) { $0 + $1.count } }
    }

    static func counts(ofFile path: String) throws -> Counts {
        let text = try String(contentsOfFile: path, encoding: .utf8)
        let rows = Self.rows(text)
        guard let header = rows.first?.map({ $0.trimmingCharacters(in: .whitespaces) }),
              let handleColumn = header.firstIndex(of: "Handle"),
              let priceColumn = header.firstIndex(of: "Variant Price"),
              let imageColumn = header.firstIndex(of: "Image Src")
        else {
            Issue.record("\(path) has no Shopify header")
            return Counts()
        }
        func value(_ row: [String], _ column: Int) -> String {
            column < row.count ? row[column].trimmingCharacters(in: .whitespacesAndNewlines) : ""
        }
        var counts = Counts()
        counts.records = rows.count - 1
        for row in rows.dropFirst() {
            let handle = value(row, handleColumn)
            if !counts.handles.contains(handle) {
                counts.handles.append(handle)
                counts.variantsByHandle[handle] = 0
                counts.imagesByHandle[handle] = []
            }
            if !value(row, priceColumn).isEmpty { counts.variantsByHandle[handle, default: 0] += 1 }
            let image = value(row, imageColumn)
            if !image.isEmpty { counts.imagesByHandle[handle, default: []].insert(image) }
        }
        return counts
    }
}
