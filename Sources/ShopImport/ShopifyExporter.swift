import Foundation
import ShopCore

/// A product that Shopify's CSV cannot carry, or a file that cannot be written.
public struct ExportError: Error, Equatable, CustomStringConvertible {
    /// The file being written, when the problem is the file.
    public var file: String?
    /// The product's handle, when the problem is the product.
    public var handle: String?
    public var message: String

    public init(file: String? = nil, handle: String? = nil, message: String) {
        self.file = file
        self.handle = handle
        self.message = message
    }

    public var description: String {
        var text = ""
        if let file { text += "\(file): " }
        if let handle { text += "product \(handle): " }
        return text + message
    }
}

/// Writes products as a Shopify product CSV, laid out as Shopify's own export: the inverse of
/// `ShopifyCSVParser`, so that importing the export of an import gives the same catalog.
///
/// - A product's first row carries its Handle and every product column; each following row
///   (Handle only, empty Title) carries the next variant and/or the next image. Variant i and
///   image i share row i; extra images get image-only rows, as in Shopify's files.
/// - A product without options is written as Shopify writes it: Option1 Name "Title", Option1
///   Value "Default Title" (the importer turns that back into no options).
/// - Every SKU is written, the importer's generated ones too, so a re-import matches variants by
///   SKU instead of generating them again.
/// - Prices are `Money.decimalText` of the integer minor units: exact, no floating point.
/// - RFC 4180: a field is quoted when it holds a comma, a quote, CR or LF, or begins or ends with
///   white space (which other readers trim); quotes inside are doubled. Records end with CRLF.
///   No byte order mark: Shopify's exports have none and the header must match theirs exactly.
///
/// Formula injection (OWASP "CSV injection"): values starting with =, +, -, @, tab or CR are
/// written unchanged. This file is a machine-readable backup and migration format; prefixing
/// such values with a quote, as spreadsheet-bound exports do, would change the data (a title
/// "=Sale=" would come back as "'=Sale="), break the round trip, and corrupt the catalog when
/// imported into Shopify. Whoever opens the file in a spreadsheet must treat it as untrusted
/// input, as docs/export.md says.
///
/// Output is streamed record by record to a sink, so memory holds one record at a time beyond
/// the products themselves.
public struct ShopifyExporter: Sendable {
    /// The 46 columns of Shopify's product CSV, in Shopify's order (header of its exports).
    public static let columns: [String] = [
        "Handle", "Title", "Body (HTML)", "Vendor", "Type", "Tags", "Published",
        "Option1 Name", "Option1 Value", "Option2 Name", "Option2 Value", "Option3 Name", "Option3 Value",
        "Variant SKU", "Variant Grams", "Variant Inventory Tracker", "Variant Inventory Qty", "Variant Inventory Policy",
        "Variant Fulfillment Service", "Variant Price", "Variant Compare At Price", "Variant Requires Shipping",
        "Variant Taxable", "Variant Barcode", "Image Src", "Image Position", "Image Alt Text", "Gift Card",
        "SEO Title", "SEO Description", "Google Shopping / Google Product Category", "Google Shopping / Gender",
        "Google Shopping / Age Group", "Google Shopping / MPN", "Google Shopping / AdWords Grouping",
        "Google Shopping / AdWords Labels", "Google Shopping / Condition", "Google Shopping / Custom Product",
        "Google Shopping / Custom Label 0", "Google Shopping / Custom Label 1", "Google Shopping / Custom Label 2",
        "Google Shopping / Custom Label 3", "Google Shopping / Custom Label 4", "Variant Image", "Variant Weight Unit",
        "Variant Tax Code",
    ]

    /// What an export wrote.
    public struct Summary: Sendable, Equatable, CustomStringConvertible {
        public var products = 0
        public var variants = 0
        public var images = 0
        /// CSV records after the header.
        public var records = 0

        public init() {}

        public var description: String { "Exported \(products) products, \(variants) variants, \(images) images" }
    }

    public let currency: Currency

    public init(currency: Currency) {
        self.currency = currency
    }

    // MARK: Writing

    /// Writes the header and every product's records to `sink`, one CSV record (ending in CRLF)
    /// per call. Every product is checked before the first record, so a product the format
    /// cannot carry fails the export before anything is written.
    @discardableResult
    public func write(_ products: [Product], to sink: (String) throws -> Void) throws -> Summary {
        for product in products { try Self.check(product) }
        try sink(Self.csvRecord(Self.columns))
        var summary = Summary()
        for product in products {
            for record in layout(product) {
                try sink(Self.csvRecord(record))
                summary.records += 1
            }
            summary.products += 1
            summary.variants += product.variants.count
            summary.images += product.images.count
        }
        return summary
    }

    /// Writes the CSV to an open file descriptor (standard output, say), in large writes.
    /// The descriptor is neither synced nor closed: it belongs to the caller.
    @discardableResult
    public func write(_ products: [Product], toDescriptor descriptor: Int32, named name: String) throws -> Summary {
        var writer = DescriptorWriter(descriptor: descriptor, name: name)
        let summary = try write(products) { try writer.append($0) }
        try writer.flush()
        return summary
    }

    /// Writes the CSV to `path` atomically: into a temporary file in the same folder (so the
    /// rename cannot cross file systems), synced, then renamed over `path`. A failed export
    /// leaves whatever was at `path` untouched and no temporary file behind.
    @discardableResult
    public func writeFile(_ products: [Product], to path: String) throws -> Summary {
        // Checked before the disk is touched, so a bad product costs no temporary file.
        for product in products { try Self.check(product) }
        let target = URL(fileURLWithPath: path)
        let folder = target.deletingLastPathComponent()
        let temporary = folder.appendingPathComponent(".\(target.lastPathComponent).\(UUID().uuidString).partial").path
        var isFolder: ObjCBool = false
        guard FileManager.default.fileExists(atPath: folder.path, isDirectory: &isFolder), isFolder.boolValue else {
            throw ExportError(file: path, message: "cannot be written: the folder \(folder.path) does not exist")
        }
        let descriptor = open(temporary, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o644)
        guard descriptor >= 0 else {
            throw ExportError(file: path, message: "cannot be written: \(Self.systemError()) (creating a temporary file in \(folder.path))")
        }
        var renamed = false
        defer { if !renamed { _ = unlink(temporary) } }

        let summary: Summary
        do {
            var writer = DescriptorWriter(descriptor: descriptor, name: path)
            summary = try write(products) { try writer.append($0) }
            try writer.flush()
            // Without this, a crash right after the rename could leave an empty file in place of the old one.
            guard fsync(descriptor) == 0 else {
                throw ExportError(file: path, message: "cannot be written: \(Self.systemError())")
            }
        } catch {
            _ = close(descriptor)
            throw error
        }
        guard close(descriptor) == 0 else {
            throw ExportError(file: path, message: "cannot be written: \(Self.systemError())")
        }
        guard rename(temporary, target.path) == 0 else {
            throw ExportError(file: path, message: "cannot be replaced: \(Self.systemError())")
        }
        renamed = true
        return summary
    }

    // MARK: Layout

    /// The CSV records of one product, as fields in `columns` order (no header).
    public func records(for product: Product) throws -> [[String]] {
        try Self.check(product)
        return layout(product)
    }

    /// Refuses what Shopify's CSV cannot carry, rather than writing a file that would not import
    /// or would import as something else. The Store enforces the option counts too; the title,
    /// tag and option-combination rules are the CSV's own.
    static func check(_ product: Product) throws {
        func refuse(_ message: String) -> ExportError { ExportError(handle: product.handle, message: message) }
        if product.title.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty {
            throw refuse("has no title; Shopify's CSV tells a product's first row by its Title, so give it one")
        }
        if product.variants.isEmpty {
            throw refuse("has no variant; every product in a Shopify CSV needs at least one (with a price)")
        }
        if product.optionNames.count > 3 {
            throw refuse("has \(product.optionNames.count) options; a Shopify CSV holds at most 3")
        }
        if product.optionNames.isEmpty && product.variants.count > 1 {
            throw refuse("has \(product.variants.count) variants but no options; Shopify tells variants apart by their option values")
        }
        var optionSets: [[String]: String] = [:]
        for variant in product.variants {
            guard variant.options.count == product.optionNames.count else {
                throw refuse("variant \(variant.sku) has \(variant.options.count) option values for \(product.optionNames.count) options")
            }
            // Shopify identifies a variant by its option values; the importer refuses a repeat.
            if let earlier = optionSets.updateValue(variant.sku, forKey: variant.options) {
                throw refuse("variants \(earlier) and \(variant.sku) have the same option values \(variant.title)")
            }
        }
        // Shopify's Tags column is a comma-separated list with no escape: such a tag would come back as two.
        for tag in product.tags where tag.contains(",") {
            throw refuse("the tag \"\(tag)\" contains a comma, which Shopify's Tags column cannot hold; rename the tag")
        }
    }

    private func layout(_ product: Product) -> [[String]] {
        // The Store returns images in position order; sorting keeps a hand-built product right too.
        let images = product.images.enumerated()
            .sorted { ($0.element.position, $0.offset) < ($1.element.position, $1.offset) }
            .map { $0.element }
        let rows = max(product.variants.count, images.count)
        var records: [[String]] = []
        records.reserveCapacity(rows)
        for row in 0..<rows {
            var record = ExportRecord()
            record["Handle"] = product.handle
            if row == 0 {
                record["Title"] = product.title
                record["Body (HTML)"] = product.bodyHTML
                record["Vendor"] = product.vendor
                record["Type"] = product.productType
                record["Tags"] = product.tags.joined(separator: ", ")
                record["Published"] = Self.flag(product.published)
                if product.optionNames.isEmpty {
                    record["Option1 Name"] = "Title"
                } else {
                    for (index, name) in product.optionNames.enumerated() { record["Option\(index + 1) Name"] = name }
                }
                record["Gift Card"] = "false"
                record["SEO Title"] = product.seoTitle
                record["SEO Description"] = product.seoDescription
            }
            if row < product.variants.count {
                let variant = product.variants[row]
                if product.optionNames.isEmpty {
                    record["Option1 Value"] = Product.defaultVariantTitle
                } else {
                    for (index, value) in variant.options.enumerated() { record["Option\(index + 1) Value"] = value }
                }
                record["Variant SKU"] = variant.sku
                record["Variant Grams"] = String(variant.grams)
                // Stock is always counted here, which is what Shopify's tracker "shopify" says.
                record["Variant Inventory Tracker"] = "shopify"
                record["Variant Inventory Qty"] = String(variant.stock)
                record["Variant Inventory Policy"] = variant.inventoryPolicy.rawValue
                record["Variant Fulfillment Service"] = "manual"
                record["Variant Price"] = Money.decimalText(variant.priceCents, currency: currency)
                record["Variant Compare At Price"] = variant.compareAtCents.map { Money.decimalText($0, currency: currency) } ?? ""
                record["Variant Requires Shipping"] = Self.flag(variant.requiresShipping)
                record["Variant Taxable"] = Self.flag(variant.taxable)
                record["Variant Barcode"] = variant.barcode
                record["Variant Image"] = variant.imageSrc
                record["Variant Weight Unit"] = variant.weightUnit
            }
            if row < images.count {
                let image = images[row]
                record["Image Src"] = image.src
                record["Image Position"] = String(image.position)
                record["Image Alt Text"] = image.alt
            }
            records.append(record.fields)
        }
        return records
    }

    private static func flag(_ value: Bool) -> String { value ? "true" : "false" }

    // MARK: RFC 4180

    /// One field as RFC 4180 text: quoted only when it must be, inner quotes doubled, the rest unchanged.
    public static func csvField(_ value: String) -> String {
        guard needsQuotes(value) else { return value }
        // By scalar, not by Character: a quote followed by a combining mark is one Character but still a quote.
        var quoted = String.UnicodeScalarView()
        quoted.append("\"")
        for scalar in value.unicodeScalars {
            quoted.append(scalar)
            if scalar == "\"" { quoted.append("\"") }
        }
        quoted.append("\"")
        return String(quoted)
    }

    /// A whole record: fields joined by commas, ending in CRLF.
    public static func csvRecord(_ fields: [String]) -> String {
        var line = ""
        for (index, field) in fields.enumerated() {
            if index > 0 { line += "," }
            line += csvField(field)
        }
        line += "\r\n"
        return line
    }

    private static func needsQuotes(_ value: String) -> Bool {
        // Bytes, since "\r\n" is a single Character and would hide both CR and LF from a Character test.
        for byte in value.utf8 where byte == UInt8(ascii: ",") || byte == UInt8(ascii: "\"") || byte == 0x0D || byte == 0x0A {
            return true
        }
        // Many readers trim unquoted fields; quoting keeps leading and trailing white space.
        if let first = value.unicodeScalars.first, first.properties.isWhitespace { return true }
        if let last = value.unicodeScalars.last, last.properties.isWhitespace { return true }
        return false
    }

    private static func systemError() -> String { String(cString: strerror(errno)) }
}

/// One record under construction, addressed by column name so the layout reads like Shopify's
/// documentation; an unknown name is a programming error, caught by the first test that runs it.
private struct ExportRecord {
    static let positions: [String: Int] = Dictionary(
        uniqueKeysWithValues: ShopifyExporter.columns.enumerated().map { ($0.element, $0.offset) })

    var fields = [String](repeating: "", count: ShopifyExporter.columns.count)

    subscript(column: String) -> String {
        get { fields[Self.index(column)] }
        set { fields[Self.index(column)] = newValue }
    }

    private static func index(_ column: String) -> Int {
        guard let position = positions[column] else { preconditionFailure("Shopify's CSV has no column \"\(column)\"") }
        return position
    }
}

/// Hands records to the kernel in 64 KiB writes: a system call per record would dominate a
/// large export (Foundation's file APIs cost several times plain calls, see DESIGN.md).
private struct DescriptorWriter {
    static let chunkSize = 1 << 16

    let descriptor: Int32
    let name: String
    private var buffer: [UInt8] = []

    init(descriptor: Int32, name: String) {
        self.descriptor = descriptor
        self.name = name
        buffer.reserveCapacity(Self.chunkSize + 4096)
    }

    mutating func append(_ text: String) throws {
        buffer.append(contentsOf: text.utf8)
        if buffer.count >= Self.chunkSize { try flush() }
    }

    mutating func flush() throws {
        let descriptor = descriptor
        let name = name
        try buffer.withUnsafeBytes { bytes in
            var offset = 0
            while offset < bytes.count {
                let written = systemWrite(descriptor, bytes.baseAddress! + offset, bytes.count - offset)
                if written < 0 {
                    if errno == EINTR { continue }
                    throw ExportError(file: name, message: "cannot be written: \(String(cString: strerror(errno)))")
                }
                offset += written
            }
        }
        buffer.removeAll(keepingCapacity: true)
    }
}

/// POSIX write(2), named apart from the exporter's own `write` methods.
private func systemWrite(_ descriptor: Int32, _ bytes: UnsafeRawPointer, _ count: Int) -> Int {
    write(descriptor, bytes, count)
}
