import Foundation
import ShopCore
import ShopImport
import ShopStore
import ShopTestSupport
import Testing

/// A fresh SQLite store in its own temporary folder, with a USD importer on it.
struct ImportFixture {
    let directory: TemporaryFolder
    let store: SQLiteStore
    let importer: ShopifyImporter

    static func make(currency: String = "USD") throws -> ImportFixture {
        let directory = try TemporaryFolder("import-tests")
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

/// What a Shopify CSV holds, counted the simple way and read with TestCSV, so that the import
/// tests' expectations do not come from the importer: products are distinct Handles, variants are
/// rows with a Variant Price, images are distinct (Handle, Image Src) pairs.
struct IndependentCounts {
    var records = 0
    var handles: [String] = []
    var variantsByHandle: [String: Int] = [:]
    var imagesByHandle: [String: Set<String>] = [:]

    var products: Int { handles.count }
    var variants: Int { variantsByHandle.values.reduce(0, +) }
    var images: Int { imagesByHandle.values.reduce(0) { $0 + $1.count } }

    init(file path: String) throws {
        let text = try String(contentsOfFile: path, encoding: .utf8)
        let rows = TestCSV.rows(text)
        guard let header = rows.first?.map({ $0.trimmingCharacters(in: .whitespaces) }),
              let handleColumn = header.firstIndex(of: "Handle"),
              let priceColumn = header.firstIndex(of: "Variant Price"),
              let imageColumn = header.firstIndex(of: "Image Src")
        else {
            Issue.record("\(path) has no Shopify header")
            return
        }
        func value(_ row: [String], _ column: Int) -> String {
            column < row.count ? row[column].trimmingCharacters(in: .whitespacesAndNewlines) : ""
        }
        records = rows.count - 1
        for row in rows.dropFirst() {
            let handle = value(row, handleColumn)
            if !handles.contains(handle) {
                handles.append(handle)
                variantsByHandle[handle] = 0
                imagesByHandle[handle] = []
            }
            if !value(row, priceColumn).isEmpty { variantsByHandle[handle, default: 0] += 1 }
            let image = value(row, imageColumn)
            if !image.isEmpty { imagesByHandle[handle, default: []].insert(image) }
        }
    }
}
