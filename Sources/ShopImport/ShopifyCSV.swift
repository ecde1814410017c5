import Foundation
import ShopCore

/// A bad value in a Shopify CSV, told with file, line, column and the value itself.
public struct ImportError: Error, Equatable, CustomStringConvertible {
    public var file: String
    public var line: Int
    public var column: String?
    public var value: String?
    public var message: String

    public var description: String {
        var text = "\(file):\(line):"
        if let column { text += " column \"\(column)\"" }
        if let value { text += " value \"\(value.count > 80 ? String(value.prefix(77)) + "..." : value)\"" }
        return text + (column == nil && value == nil ? " " : ": ") + message
    }
}

/// Turns the rows of Shopify product CSVs into products, with Shopify's own semantics:
///
/// - A product's first row carries its Handle, Title and product columns; the rows after it with
///   the same Handle (continuation rows) carry only more variants and/or more images.
/// - Up to three options: names on the first row, values on every variant row. Shopify's
///   "Title" / "Default Title" stands for "no options" and is stored as none.
/// - Prices are decimal text, turned into integer minor units exactly (no floating point).
/// - An empty Variant SKU gets a stable one made of the handle and the option values.
///
/// It only reads and checks; writing is the Store's, in one transaction, after every row passed.
public struct ShopifyCSVParser {
    public let currency: Currency
    /// Off for a checking pass that never writes: sanitising is the costly part of a row.
    public var sanitizesBodies = true

    public init(currency: Currency) {
        self.currency = currency
    }

    /// Columns this importer reads. Every other column of Shopify's export is accepted and ignored.
    enum Column: String, CaseIterable {
        case handle = "Handle", title = "Title", body = "Body (HTML)", vendor = "Vendor", type = "Type", tags = "Tags"
        case published = "Published", status = "Status"
        case option1Name = "Option1 Name", option1Value = "Option1 Value"
        case option2Name = "Option2 Name", option2Value = "Option2 Value"
        case option3Name = "Option3 Name", option3Value = "Option3 Value"
        case sku = "Variant SKU", grams = "Variant Grams", inventoryQty = "Variant Inventory Qty"
        case inventoryPolicy = "Variant Inventory Policy", price = "Variant Price", compareAt = "Variant Compare At Price"
        case requiresShipping = "Variant Requires Shipping", taxable = "Variant Taxable", barcode = "Variant Barcode"
        case imageSrc = "Image Src", imagePosition = "Image Position", imageAlt = "Image Alt Text"
        case seoTitle = "SEO Title", seoDescription = "SEO Description", variantImage = "Variant Image"
        case weightUnit = "Variant Weight Unit"

        static let nameColumns: [Column] = [.option1Name, .option2Name, .option3Name]
        static let valueColumns: [Column] = [.option1Value, .option2Value, .option3Value]
    }

    /// The largest stock figure accepted: beyond any real shelf, far from overflow.
    static let maxStock = 1_000_000_000

    /// Reads every product of one file. `onRow` is called after each record (for progress).
    public func products(in reader: inout CSVReader, onRow: (Int) -> Void = { _ in }) throws -> [ParsedProduct] {
        var products = try ShopifyProductReader(reader: reader, parser: self)
        var result: [ParsedProduct] = []
        while let product = try products.next(onRow: onRow) { result.append(product) }
        return result
    }
}

/// Reads a Shopify CSV one product at a time, so an import can stream a file of any size.
public struct ShopifyProductReader {
    typealias Column = ShopifyCSVParser.Column
    let parser: ShopifyCSVParser
    private var reader: CSVReader
    private let index: [Column: Int]
    private let headerCount: Int
    public var file: String { reader.file }
    /// Records read so far (the header not counted).
    public private(set) var rows = 0
    private var current: ProductBuilder?
    private var finishedLines: [String: Int] = [:]
    private var skuLines: [String: (line: Int, handle: String)] = [:]
    private var ended = false

    /// Reads and checks the header row.
    public init(reader: CSVReader, parser: ShopifyCSVParser) throws {
        self.reader = reader
        self.parser = parser
        let file = reader.file
        guard let header = try self.reader.nextRecord() else {
            throw ImportError(file: file, line: 1, column: nil, value: nil, message: "the file is empty; expected Shopify's header row")
        }
        var index: [Column: Int] = [:]
        var seenNames: Set<String> = []
        for (position, rawName) in header.fields.enumerated() {
            let name = rawName.trimmingCharacters(in: .whitespaces)
            guard seenNames.insert(name).inserted || name.isEmpty else {
                throw ImportError(file: file, line: header.line, column: name, value: nil, message: "the header names this column twice")
            }
            if let column = Column(rawValue: name) { index[column] = position }
        }
        for required in [Column.handle, .title] where index[required] == nil {
            throw ImportError(file: file, line: header.line, column: required.rawValue, value: nil,
                              message: "the header has no such column; is this a Shopify product CSV?")
        }
        self.index = index
        headerCount = header.fields.count
    }

    /// The next whole product, or nil at the end of the file. `onRow` is called after each record.
    public mutating func next(onRow: (Int) -> Void = { _ in }) throws -> ParsedProduct? {
        while !ended {
            guard let record = try reader.nextRecord() else {
                ended = true
                guard let last = current else { return nil }
                current = nil
                return try finish(last)
            }
            rows += 1
            let row = Row(record: record, index: index, file: file)
            if record.fields.count > headerCount {
                throw ImportError(file: file, line: record.line, column: nil, value: nil,
                                  message: "the row has \(record.fields.count) fields but the header has \(headerCount)")
            }
            let handle = row[.handle].trimmingCharacters(in: .whitespaces)
            guard !handle.isEmpty else {
                throw row.error(.handle, "is empty; every row needs the Handle of its product")
            }
            var completed: ParsedProduct?
            if current?.handle != handle {
                if let previous = current { completed = try finish(previous) }
                current = nil
                if let firstLine = finishedLines[handle] {
                    throw row.error(.handle, handle, "rows of this product must be together, but it already ended (its first row is line \(firstLine))")
                }
                guard !row[.title].trimmingCharacters(in: .whitespaces).isEmpty else {
                    throw row.error(.handle, handle, "this continuation row has no parent: no earlier row with this Handle has a Title")
                }
                current = try ProductBuilder(firstRow: row, handle: handle, parser: parser)
            }
            try current!.add(row)
            onRow(rows)
            if let completed { return completed }
        }
        return nil
    }

    private mutating func finish(_ builder: ProductBuilder) throws -> ParsedProduct {
        let product = try builder.build()
        for variant in product.product.variants {
            if let earlier = skuLines[variant.sku] {
                throw ImportError(file: file, line: product.variantLines[variant.sku] ?? product.line, column: Column.sku.rawValue,
                                  value: variant.sku,
                                  message: "this SKU is already used on line \(earlier.line) (product \(earlier.handle)); SKUs must be unique")
            }
            skuLines[variant.sku] = (product.variantLines[variant.sku] ?? product.line, product.product.handle)
        }
        finishedLines[product.product.handle] = product.line
        return product
    }
}

/// A product read from a CSV, with where its rows are (for later errors).
public struct ParsedProduct: Sendable {
    public var product: Product
    public var file: String
    public var line: Int
    public var variantLines: [String: Int]
}

/// One record with its columns by name.
struct Row {
    let record: CSVRecord
    let index: [ShopifyCSVParser.Column: Int]
    let file: String

    var line: Int { record.line }

    subscript(column: ShopifyCSVParser.Column) -> String {
        guard let position = index[column], position < record.fields.count else { return "" }
        return record.fields[position]
    }

    func trimmed(_ column: ShopifyCSVParser.Column) -> String {
        self[column].trimmingCharacters(in: .whitespacesAndNewlines)
    }

    func error(_ column: ShopifyCSVParser.Column, _ message: String) -> ImportError {
        ImportError(file: file, line: line, column: column.rawValue, value: nil, message: message)
    }

    func error(_ column: ShopifyCSVParser.Column, _ value: String, _ message: String) -> ImportError {
        ImportError(file: file, line: line, column: column.rawValue, value: value, message: message)
    }
}

/// Collects one product's rows.
struct ProductBuilder {
    typealias Column = ShopifyCSVParser.Column
    let handle: String
    let parser: ShopifyCSVParser
    let line: Int
    let file: String
    var product: Product
    /// Images as (position or nil for "next", image, line).
    var images: [(position: Int?, image: ProductImage, line: Int)] = []
    var variantLines: [String: Int] = [:]
    var optionSets: [[String]: Int] = [:]

    init(firstRow row: Row, handle: String, parser: ShopifyCSVParser) throws {
        self.handle = handle
        self.parser = parser
        line = row.line
        file = row.file
        guard Handle.isValid(handle) else {
            throw row.error(.handle, handle, "a handle may hold only lower-case letters, digits, - and _ (it becomes the page's URL)")
        }
        let title = row.trimmed(.title)
        guard title.count <= 255 else { throw row.error(.title, title, "is longer than 255 characters") }

        var published = true
        switch row.trimmed(.published).lowercased() {
        case "", "true": published = true
        case "false": published = false
        default: throw row.error(.published, row[.published], "must be true or false")
        }
        switch row.trimmed(.status).lowercased() {
        case "", "active": break
        case "draft", "archived": published = false
        default: throw row.error(.status, row[.status], "must be active, draft or archived")
        }

        var optionNames: [String] = []
        var sawGap = false
        for column in Column.nameColumns {
            let name = row.trimmed(column)
            if name.isEmpty { sawGap = true; continue }
            guard !sawGap else { throw row.error(column, name, "is set while an earlier option name is empty") }
            guard !optionNames.contains(name) else { throw row.error(column, name, "names the same option twice") }
            optionNames.append(name)
        }
        // Shopify's way of saying "this product has no options".
        if optionNames == ["Title"] && row.trimmed(.option1Value) == Product.defaultVariantTitle { optionNames = [] }

        var tags: [String] = []
        for tag in row[.tags].split(separator: ",") {
            let name = tag.trimmingCharacters(in: .whitespacesAndNewlines)
            if !name.isEmpty && !tags.contains(name) { tags.append(name) }
        }

        product = Product(
            // Descriptions come from strangers' CSVs: only an allowlist of markup is kept, so the
            // Store holds HTML that pages and the API may show as it is.
            handle: handle, title: title, bodyHTML: parser.sanitizesBodies ? HTMLSanitizer.sanitize(row[.body]) : "",
            vendor: row.trimmed(.vendor),
            productType: row.trimmed(.type), tags: tags, published: published, seoTitle: row.trimmed(.seoTitle),
            seoDescription: row.trimmed(.seoDescription), optionNames: optionNames)
    }

    /// A row carries a variant when it says anything about one.
    static func hasVariant(_ row: Row) -> Bool {
        Column.valueColumns.contains { !row.trimmed($0).isEmpty } || !row.trimmed(.sku).isEmpty || !row.trimmed(.price).isEmpty
    }

    mutating func add(_ row: Row) throws {
        if Self.hasVariant(row) { try addVariant(row) }
        let src = row.trimmed(.imageSrc)
        if !src.isEmpty {
            try Self.checkImageSource(src, row: row, column: .imageSrc)
            var position: Int?
            let positionText = row.trimmed(.imagePosition)
            if !positionText.isEmpty {
                guard let value = Int(positionText), value >= 1, value <= 10_000 else {
                    throw row.error(.imagePosition, positionText, "must be a whole number from 1")
                }
                position = value
            }
            images.append((position, ProductImage(src: src, position: 0, alt: row.trimmed(.imageAlt)), row.line))
        } else if !row.trimmed(.imagePosition).isEmpty || !row.trimmed(.imageAlt).isEmpty {
            // An alt text or position with no image would be silently lost.
            let column: Column = row.trimmed(.imagePosition).isEmpty ? .imageAlt : .imagePosition
            throw row.error(column, row[column], "is set but Image Src is empty")
        }
        if !Self.hasVariant(row) && src.isEmpty && row.line != line {
            throw ImportError(file: file, line: row.line, column: nil, value: nil,
                              message: "this row of product \(handle) has neither a variant (option values, SKU, price) nor an image")
        }
    }

    static func checkImageSource(_ src: String, row: Row, column: Column) throws {
        let lower = src.lowercased()
        let isRemote = lower.hasPrefix("https://") || lower.hasPrefix("http://")
        let isLocal = src.hasPrefix("/") && !src.hasPrefix("//")
        guard (isRemote || isLocal), src.utf8.count <= 2048, !src.contains(where: { $0.isWhitespace || $0 == "\"" || $0 == "<" || $0 == ">" }),
              isLocal || URL(string: src)?.host != nil
        else {
            throw row.error(column, src, "must be an http(s) URL or a path from the site root like /images/photo.jpg")
        }
        if isLocal && src.split(separator: "/").contains("..") {
            throw row.error(column, src, "must not contain \"..\"")
        }
    }

    mutating func addVariant(_ row: Row) throws {
        var options: [String] = []
        for (position, column) in Column.valueColumns.enumerated() {
            let value = row.trimmed(column)
            if position < product.optionNames.count {
                guard !value.isEmpty else {
                    throw row.error(column, "is empty, but the product has the option \"\(product.optionNames[position])\"")
                }
                guard value.count <= 255 else { throw row.error(column, value, "is longer than 255 characters") }
                options.append(value)
            } else if !value.isEmpty && !(position == 0 && value == Product.defaultVariantTitle && product.optionNames.isEmpty) {
                throw row.error(column, value, "has a value, but the product's first row names no Option\(position + 1) Name")
            }
        }
        if let earlier = optionSets[options] {
            throw row.error(Column.valueColumns[0], options.joined(separator: " / "),
                            "the product already has a variant with these options (line \(earlier))")
        }
        optionSets[options] = row.line

        let priceText = row.trimmed(.price)
        guard !priceText.isEmpty else { throw row.error(.price, "is empty; every variant needs a price") }
        let price = try money(row, .price)
        let compareAtText = row.trimmed(.compareAt)
        let compareAt = compareAtText.isEmpty ? nil : try money(row, .compareAt)

        let stockText = row.trimmed(.inventoryQty)
        var stock = 0
        if !stockText.isEmpty {
            guard let value = Int(stockText) else { throw row.error(.inventoryQty, stockText, "must be a whole number") }
            guard value >= 0 else { throw row.error(.inventoryQty, stockText, "is negative; stock cannot be below zero here") }
            guard value <= ShopifyCSVParser.maxStock else { throw row.error(.inventoryQty, stockText, "is too large") }
            stock = value
        }

        let policy: InventoryPolicy
        switch row.trimmed(.inventoryPolicy).lowercased() {
        case "", "deny": policy = .deny
        case "continue": policy = .continue
        default: throw row.error(.inventoryPolicy, row[.inventoryPolicy], "must be deny or continue")
        }

        var grams = 0
        let gramsText = row.trimmed(.grams)
        if !gramsText.isEmpty {
            // Shopify writes whole grams; some tools add ".0".
            let whole = gramsText.hasSuffix(".0") ? String(gramsText.dropLast(2)) : gramsText
            guard let value = Int(whole), value >= 0, value <= 100_000_000 else {
                throw row.error(.grams, gramsText, "must be a whole number of grams")
            }
            grams = value
        }

        let variantImage = row.trimmed(.variantImage)
        if !variantImage.isEmpty { try Self.checkImageSource(variantImage, row: row, column: .variantImage) }

        var sku = row.trimmed(.sku)
        if sku.isEmpty {
            sku = Self.generatedSKU(handle: handle, options: options)
        } else {
            guard sku.utf8.count <= 255 else { throw row.error(.sku, sku, "is longer than 255 bytes") }
            guard !sku.contains(","), !sku.unicodeScalars.contains(where: { $0.properties.generalCategory == .control }) else {
                throw row.error(.sku, sku, "must not contain commas or control characters (SKUs are listed comma-separated in the API)")
            }
        }
        if let earlier = variantLines[sku] {
            throw row.error(.sku, sku, "this SKU is already used on line \(earlier); SKUs must be unique")
        }
        variantLines[sku] = row.line

        product.variants.append(Variant(
            sku: sku, options: options, priceCents: price, compareAtCents: compareAt, stock: stock, inventoryPolicy: policy,
            grams: grams, requiresShipping: try flag(row, .requiresShipping), taxable: try flag(row, .taxable),
            barcode: row.trimmed(.barcode), imageSrc: variantImage, weightUnit: row.trimmed(.weightUnit)))
    }

    /// A stable SKU for a variant that has none: the handle, plus the option values as a slug.
    static func generatedSKU(handle: String, options: [String]) -> String {
        let suffix = Handle.slug(options.joined(separator: " "))
        return suffix.isEmpty ? handle : "\(handle)-\(suffix)"
    }

    func money(_ row: Row, _ column: Column) throws -> Int {
        let text = row.trimmed(column)
        do {
            return try Money.parseMinorUnits(text, currency: parser.currency)
        } catch {
            throw row.error(column, text, "\(error)")
        }
    }

    func flag(_ row: Row, _ column: Column) throws -> Bool {
        switch row.trimmed(column).lowercased() {
        case "", "true": return true
        case "false": return false
        default: throw row.error(column, row[column], "must be true or false")
        }
    }

    func build() throws -> ParsedProduct {
        guard !product.variants.isEmpty else {
            throw ImportError(file: file, line: line, column: Column.price.rawValue, value: nil,
                              message: "product \(handle) has no variant: its first row needs at least a Variant Price")
        }
        var result = product
        // Order images by their given position (rows without one follow in file order), then number them 1...n.
        var next = 0
        let ordered = images.enumerated().map { offset, entry -> (Int, Int, ProductImage) in
            if let position = entry.position { next = max(next, position) } else { next += 1 }
            return (entry.position ?? next, offset, entry.image)
        }.sorted { ($0.0, $0.1) < ($1.0, $1.1) }
        var seen: Set<String> = []
        for (_, _, image) in ordered where seen.insert(image.src).inserted {
            result.images.append(ProductImage(src: image.src, position: result.images.count + 1, alt: image.alt))
        }
        return ParsedProduct(product: result, file: file, line: line, variantLines: variantLines)
    }
}
