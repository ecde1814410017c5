import Foundation
import ShopCore
import ShopImport
import ShopStore
import ShopTestSupport
import Testing

/// `ShopifyExporter`: Shopify's layout, exact text, and the round trip import -> export -> import
/// through real SQLite files.
@Suite("Shopify export")
struct ShopifyExportTests {
    static let euro = Currency(code: "EUR")!

    /// Every shared Shopify fixture, and the example shop's catalog.
    static let roundTripSources: [String] = Repository.shopifyFixtureNames().map(Repository.shopifyFixture) + [Repository.exampleCatalog]

    @Test("Importing the export of an import gives the same catalog, field for field", arguments: ShopifyExportTests.roundTripSources)
    func roundTrip(source: String) async throws {
        let first = try ImportFixture.make(currency: "EUR")
        defer { first.remove() }
        let imported = try await first.importer.importFiles([source])
        let catalogA = try await first.catalog()
        try #require(!catalogA.isEmpty)
        #expect(catalogA.count == imported.products)

        let exportPath = first.directory.file("export.csv")
        let summary = try ShopifyExporter(currency: Self.euro).writeFile(catalogA, to: exportPath)
        #expect(summary.products == imported.products)
        #expect(summary.variants == imported.variants)
        #expect(summary.images == imported.images)
        #expect(summary.records == catalogA.reduce(0) { $0 + max($1.variants.count, $1.images.count) })

        let second = try ImportFixture.make(currency: "EUR")
        defer { second.remove() }
        let reimported = try await second.importer.importFiles([exportPath])
        #expect(reimported.changes.productsCreated == catalogA.count)
        let catalogB = try await second.catalog()
        ExportTestSupport.expectSame(catalogB, catalogA)
        #expect(catalogB == catalogA)

        // Back into the store it came from: nothing to do.
        let again = try await first.importer.importFiles([exportPath])
        #expect(again.changes == ExportTestSupport.unchanged(products: catalogA.count), "\(again.description)")

        // The copy exports to the same bytes: the file is a function of the catalog alone.
        let secondExport = second.directory.file("export.csv")
        try ShopifyExporter(currency: Self.euro).writeFile(catalogB, to: secondExport)
        let firstBytes = try Data(contentsOf: URL(fileURLWithPath: exportPath))
        let secondBytes = try Data(contentsOf: URL(fileURLWithPath: secondExport))
        #expect(firstBytes == secondBytes)

        try await first.store.close()
        try await second.store.close()
    }

    @Test("The round trip covers every shared fixture")
    func roundTripSourcesPresent() {
        #expect(Set(Repository.shopifyFixtureNames()).isSuperset(of: ["apparel.csv", "home-and-garden.csv", "jewelery.csv"]))
        #expect(Self.roundTripSources.contains(Repository.exampleCatalog))
    }

    @Test("Shopify's header, 46 fields a record, CRLF line ends, variant i and image i on row i")
    func layout() async throws {
        let fixture = try ImportFixture.make(currency: "EUR")
        defer { fixture.remove() }
        _ = try await fixture.importer.importFiles([Repository.shopifyFixture("jewelery.csv")])
        let catalog = try await fixture.catalog()
        let path = fixture.directory.file("export.csv")
        try ShopifyExporter(currency: Self.euro).writeFile(catalog, to: path)
        let bytes = try [UInt8](Data(contentsOf: URL(fileURLWithPath: path)))

        let fixtureHeader = try ExportTestSupport.firstLine(ofFile: Repository.shopifyFixture("apparel.csv"))
        #expect(fixtureHeader.split(separator: ",", omittingEmptySubsequences: false).count == 46)
        #expect(ExportTestSupport.firstLine(of: bytes) == fixtureHeader)
        #expect(ShopifyExporter.columns.joined(separator: ",") == fixtureHeader)
        #expect(bytes.starts(with: Array("Handle,Title,".utf8)), "no byte order mark, as in Shopify's files")
        #expect(Array(bytes.suffix(2)) == [0x0D, 0x0A])
        #expect(ExportTestSupport.lineEndsAreCRLF(bytes))

        let records = try ExportTestSupport.records(ofFile: path)
        #expect(records.count == 1 + catalog.reduce(0) { $0 + max($1.variants.count, $1.images.count) })
        for record in records { #expect(record.fields.count == 46, "line \(record.line)") }
        let column = ExportTestSupport.column

        // gemstone: 2 variants and 4 images make 4 rows, not 6.
        let gemstone = records.filter { $0.fields[column("Handle")] == "gemstone" }
        try #require(gemstone.count == 4)
        let head = gemstone[0].fields
        #expect(head[column("Title")] == "Gemstone Necklace")
        #expect(head[column("Published")] == "true")
        #expect(head[column("Gift Card")] == "false")
        #expect(head[column("Option1 Name")] == "Colour")
        #expect(head[column("Option1 Value")] == "Blue")
        #expect(head[column("Variant SKU")] == "gemstone-blue", "the generated SKU is written")
        #expect(head[column("Variant Inventory Tracker")] == "shopify")
        #expect(head[column("Variant Fulfillment Service")] == "manual")
        #expect(head[column("Variant Price")] == "27.99")
        #expect(head[column("Image Position")] == "1")
        #expect(!head[column("Variant Image")].isEmpty)
        for (offset, record) in gemstone.enumerated().dropFirst() {
            let fields = record.fields
            #expect(fields[column("Title")].isEmpty, "continuation row \(offset)")
            #expect(fields[column("Option1 Name")].isEmpty)
            #expect(fields[column("Gift Card")].isEmpty)
            #expect(fields[column("Image Position")] == String(offset + 1))
            #expect(!fields[column("Image Src")].isEmpty)
        }
        #expect(gemstone[1].fields[column("Option1 Value")] == "Purple")
        #expect(gemstone[1].fields[column("Variant SKU")] == "gemstone-purple")
        #expect(gemstone[1].fields[column("Variant Price")] == "27.99")
        for record in gemstone.dropFirst(2) {
            // Image-only rows: nothing of a variant, so the importer reads no variant from them.
            for name in ["Option1 Value", "Variant SKU", "Variant Price", "Variant Grams", "Variant Inventory Qty", "Variant Image"] {
                #expect(record.fields[column(name)].isEmpty, "\(name)")
            }
        }

        // A product without options is written as Shopify writes it.
        let bangle = try #require(records.first(where: { $0.fields[column("Handle")] == "bangle-bracelet" }))
        #expect(bangle.fields[column("Option1 Name")] == "Title")
        #expect(bangle.fields[column("Option1 Value")] == "Default Title")
        #expect(bangle.fields[column("Variant SKU")] == "bangle-bracelet")

        // Every continuation row, of every product, has an empty Title.
        var seen: Set<String> = []
        for record in records.dropFirst() {
            let isFirst = seen.insert(record.fields[column("Handle")]).inserted
            #expect(record.fields[column("Title")].isEmpty != isFirst, "line \(record.line)")
        }
        try await fixture.store.close()
    }

    @Test("Rows are max(variants, images): 3 variants and 4 images make 4 rows; 4 variants and 2 images make 4")
    func rowCounts() throws {
        let exporter = ShopifyExporter(currency: Self.euro)
        let column = ExportTestSupport.column
        let wide = ExportTestSupport.product(handle: "wide", variants: 3, images: 4)
        let rows = try exporter.records(for: wide)
        #expect(rows.count == 4)
        for (index, row) in rows.enumerated() {
            #expect(row.count == 46)
            #expect(row[column("Handle")] == "wide")
            #expect(row[column("Variant SKU")] == (index < 3 ? "WIDE-\(index + 1)" : ""))
            #expect(row[column("Image Src")] == "/images/wide-\(index + 1).jpg")
            #expect(row[column("Image Position")] == String(index + 1))
        }
        let tall = ExportTestSupport.product(handle: "tall", variants: 4, images: 2)
        let tallRows = try exporter.records(for: tall)
        #expect(tallRows.count == 4)
        #expect(tallRows.map { $0[column("Image Src")].isEmpty } == [false, false, true, true])
        #expect(tallRows.map { $0[column("Variant Price")].isEmpty } == [false, false, false, false])
    }

    @Test("Hostile values survive export and re-import exactly")
    func hostileValues() async throws {
        let products = ExportTestSupport.hostileProducts()
        let first = try ImportFixture.make(currency: "EUR")
        defer { first.remove() }
        _ = try await first.store.upsert(products)
        // The store keeps them as built; otherwise the comparison below would prove less.
        let stored = try await first.catalog()
        ExportTestSupport.expectSame(stored, products)

        let path = first.directory.file("hostile.csv")
        let summary = try ShopifyExporter(currency: Self.euro).writeFile(stored, to: path)
        #expect(summary.products == 2 && summary.variants == 4 && summary.images == 4 && summary.records == 5)

        let second = try ImportFixture.make(currency: "EUR")
        defer { second.remove() }
        _ = try await second.importer.importFiles([path])
        let copy = try await second.catalog()
        ExportTestSupport.expectSame(copy, products)
        #expect(copy == products)

        // The text itself: formula-like values left as they are, quoted only for RFC 4180's reasons.
        let text = try String(decoding: Data(contentsOf: URL(fileURLWithPath: path)), as: UTF8.self)
        #expect(text.contains(#","=HYPERLINK(""https://example.com"",""Café, «noir»"")"#))
        #expect(text.contains(",=CAFÉ-A4,"))
        #expect(text.contains(",-CAFÉ-A3,"))
        #expect(text.contains(",@0123456789,"))
        #expect(text.contains(#","Still Life, @home, +plus, -minus, =SUM(1), 日本語 タグ, tab"# + "\tinside\","))
        #expect(text.contains(",42.99,50.00,"))
        #expect(text.contains(",0.01,,"))

        let again = try await first.importer.importFiles([path])
        #expect(again.changes == ExportTestSupport.unchanged(products: 2), "\(again.description)")
        try await first.store.close()
        try await second.store.close()
    }

    @Test("Prices are exact decimal text in the currency's minor units")
    func prices() throws {
        func priceFields(_ cents: Int, compareAt: Int?, _ code: String) throws -> [String] {
            let product = Product(handle: "p", title: "P", variants: [
                Variant(sku: "P", options: [], priceCents: cents, compareAtCents: compareAt, stock: 0),
            ])
            let row = try ShopifyExporter(currency: Currency(code: code)!).records(for: product)[0]
            return [row[ExportTestSupport.column("Variant Price")], row[ExportTestSupport.column("Variant Compare At Price")]]
        }
        #expect(try priceFields(4299, compareAt: 5000, "EUR") == ["42.99", "50.00"])
        #expect(try priceFields(5000, compareAt: nil, "EUR") == ["50.00", ""])
        #expect(try priceFields(5, compareAt: 0, "USD") == ["0.05", "0.00"])
        #expect(try priceFields(4300, compareAt: 5000, "JPY") == ["4300", "5000"])
        #expect(try priceFields(1234, compareAt: nil, "KWD") == ["1.234", ""])
        #expect(try priceFields(Money.maxMinorUnits, compareAt: nil, "EUR") == ["10000000000.00", ""])

        // Whatever is written, the importer's parser reads back to the same minor units.
        for code in ["EUR", "JPY", "KWD"] {
            let currency = Currency(code: code)!
            for cents in [0, 1, 9, 10, 99, 100, 101, 4299, 5000, 123_456_789, Money.maxMinorUnits] {
                #expect(try Money.parseMinorUnits(Money.decimalText(cents, currency: currency), currency: currency) == cents, "\(code) \(cents)")
            }
        }
    }

    @Test("Fields are quoted exactly when RFC 4180 needs it; formula-like values are left unchanged")
    func quoting() throws {
        let fields = [
            "plain", "a,b", #"say "hi""#, " lead", "trail ", "two\nlines", "cr\rhere", "crlf\r\nhere",
            "=1+2", "+3", "-4", "@5", "\ttab", "", "日本語", "e\u{301}", "\"\u{301}",
        ]
        let expected = "plain,\"a,b\",\"say \"\"hi\"\"\",\" lead\",\"trail \",\"two\nlines\",\"cr\rhere\",\"crlf\r\nhere\","
            + "=1+2,+3,-4,@5,\"\ttab\",,日本語,e\u{301},\"\"\"\u{301}\"\r\n"
        let record = ShopifyExporter.csvRecord(fields)
        #expect(Array(record.utf8) == Array(expected.utf8))

        // And the importer's reader gives back exactly the fields, scalar for scalar.
        var reader = CSVReader(text: record, file: "quoting.csv")
        let parsed = try #require(try reader.nextRecord())
        #expect(parsed.fields.map { Array($0.unicodeScalars) } == fields.map { Array($0.unicodeScalars) })
        #expect(try reader.nextRecord()?.fields == nil)
    }

    @Test("The sink gets the header, then one CRLF-terminated record per call")
    func streaming() throws {
        var chunks: [String] = []
        let products = [
            ExportTestSupport.product(handle: "one", variants: 2, images: 1),
            ExportTestSupport.product(handle: "two", variants: 1, images: 3),
        ]
        let summary = try ShopifyExporter(currency: Self.euro).write(products) { chunks.append($0) }
        #expect(chunks.count == 1 + 2 + 3)
        #expect(chunks.first == ShopifyExporter.csvRecord(ShopifyExporter.columns))
        #expect(chunks.allSatisfy { Array($0.utf8.suffix(2)) == [0x0D, 0x0A] })
        #expect(summary.products == 2 && summary.variants == 3 && summary.images == 4 && summary.records == 5)
        #expect(summary.description == "Exported 2 products, 3 variants, 4 images")
    }

    @Test("Products the format cannot carry are refused before anything is written")
    func refusals() throws {
        let exporter = ShopifyExporter(currency: Self.euro)
        var commaTag = ExportTestSupport.product(handle: "comma-tag", variants: 1, images: 0)
        commaTag.tags = ["Red, White"]
        let error = try #require(throws: ExportError.self) { try exporter.records(for: commaTag) }
        #expect(error.handle == "comma-tag")
        #expect(error.description.contains("Red, White"))

        var untitled = ExportTestSupport.product(handle: "untitled", variants: 1, images: 0)
        untitled.title = "  "
        #expect(throws: ExportError.self) { try exporter.records(for: untitled) }
        let empty = Product(handle: "empty", title: "Empty")
        #expect(throws: ExportError.self) { try exporter.records(for: empty) }

        // Nothing reaches the sink: the bad product is last, yet the header is not written either.
        var chunks = 0
        do {
            try exporter.write([ExportTestSupport.product(handle: "fine", variants: 1, images: 1), empty]) { _ in chunks += 1 }
            Issue.record("a product without variants was exported")
        } catch is ExportError {}
        #expect(chunks == 0)
    }

    @Test("A failed export leaves the old file as it was and no temporary file")
    func atomicWrite() throws {
        let folder = try TemporaryFolder("import-tests")
        defer { folder.remove() }
        let exporter = ShopifyExporter(currency: Self.euro)
        let good = ExportTestSupport.product(handle: "good", variants: 2, images: 2)
        let target = try folder.write("catalog.csv", "old contents\r\n")

        // A product the format cannot carry.
        #expect(throws: ExportError.self) { try exporter.writeFile([good, Product(handle: "bad", title: "Bad")], to: target) }
        #expect(try String(contentsOfFile: target, encoding: .utf8) == "old contents\r\n")
        #expect(try FileManager.default.contentsOfDirectory(atPath: folder.path) == ["catalog.csv"])

        // A folder that does not exist.
        let missing = try #require(throws: ExportError.self) { try exporter.writeFile([good], to: folder.file("missing/catalog.csv")) }
        #expect(missing.description.contains("does not exist"))
        #expect(!FileManager.default.fileExists(atPath: folder.file("missing")))

        // The rename fails after the whole file was written (the target is a folder): the temporary file goes.
        try FileManager.default.createDirectory(atPath: folder.file("taken"), withIntermediateDirectories: false)
        try folder.write("taken/keep.txt", "keep")
        #expect(throws: ExportError.self) { try exporter.writeFile([good], to: folder.file("taken")) }
        #expect(try FileManager.default.contentsOfDirectory(atPath: folder.path).sorted() == ["catalog.csv", "taken"])
        #expect(try FileManager.default.contentsOfDirectory(atPath: folder.file("taken")) == ["keep.txt"])

        // Success replaces the old file whole.
        let summary = try exporter.writeFile([good], to: target)
        #expect(summary.records == 2)
        let text = try String(contentsOfFile: target, encoding: .utf8)
        #expect(text.hasPrefix("Handle,Title,Body (HTML),"))
        #expect(!text.contains("old contents"))
        #expect(try FileManager.default.contentsOfDirectory(atPath: folder.path).sorted() == ["catalog.csv", "taken"])
    }
}

/// Helpers of this file only.
private enum ExportTestSupport {
    static func column(_ name: String) -> Int {
        guard let index = ShopifyExporter.columns.firstIndex(of: name) else {
            Issue.record("Shopify's CSV has no column \"\(name)\"")
            return 0
        }
        return index
    }

    /// Nothing created, updated or removed: every product unchanged.
    static func unchanged(products: Int) -> UpsertSummary {
        var summary = UpsertSummary()
        summary.productsUnchanged = products
        return summary
    }

    /// Equal catalogs, and when not, which product and how, rather than two pages of dump.
    static func expectSame(_ actual: [Product], _ expected: [Product]) {
        #expect(actual.map(\.handle) == expected.map(\.handle))
        for (got, wanted) in zip(actual, expected) where got != wanted {
            var differences: [String] = []
            let gotFields = Mirror(reflecting: got).children
            let wantedFields = Mirror(reflecting: wanted).children
            for (left, right) in zip(gotFields, wantedFields) where "\(left.value)" != "\(right.value)" {
                differences.append("\(left.label ?? "?"): got \(String(reflecting: left.value)), expected \(String(reflecting: right.value))")
            }
            Issue.record("product \(wanted.handle) differs:\n\(differences.joined(separator: "\n"))")
        }
    }

    /// The first line of a file, without its line end.
    static func firstLine(ofFile path: String) throws -> String {
        try firstLine(of: [UInt8](Data(contentsOf: URL(fileURLWithPath: path))))
    }

    static func firstLine(of bytes: [UInt8]) -> String {
        let end = bytes.firstIndex(where: { $0 == 0x0D || $0 == 0x0A }) ?? bytes.endIndex
        return String(decoding: bytes[..<end], as: UTF8.self)
    }

    /// Outside quoted fields every LF follows a CR and every CR precedes a LF. A doubled quote
    /// toggles the state twice, so counting quotes is enough to know where fields are quoted.
    static func lineEndsAreCRLF(_ bytes: [UInt8]) -> Bool {
        var quoted = false
        for (index, byte) in bytes.enumerated() {
            switch byte {
            case UInt8(ascii: "\""): quoted.toggle()
            case 0x0A where !quoted:
                if index == 0 || bytes[index - 1] != 0x0D { return false }
            case 0x0D where !quoted:
                if index + 1 >= bytes.count || bytes[index + 1] != 0x0A { return false }
            default: break
            }
        }
        return !quoted
    }

    static func records(ofFile path: String) throws -> [CSVRecord] {
        var reader = try CSVReader(path: path)
        var records: [CSVRecord] = []
        while let record = try reader.nextRecord() { records.append(record) }
        return records
    }

    /// A plain product with one option, `variants` variants (SKUs HANDLE-1...) and `images` images.
    static func product(handle: String, variants: Int, images: Int) -> Product {
        Product(
            handle: handle, title: handle.capitalized, optionNames: variants > 1 ? ["Size"] : [],
            variants: (1...max(variants, 1)).map { index in
                Variant(sku: "\(handle.uppercased())-\(index)", options: variants > 1 ? ["S\(index)"] : [],
                        priceCents: 1000 + index, stock: index)
            },
            images: images == 0 ? [] : (1...images).map { ProductImage(src: "/images/\(handle)-\($0).jpg", position: $0, alt: "") })
    }

    /// Values that break naive CSV writers and readers, and values a spreadsheet would run as formulas.
    static func hostileProducts() -> [Product] {
        let title = #"=HYPERLINK("https://example.com","Café, «noir»")"# + "\nSecond line 🍷 日本語"
        let cafe = Product(
            handle: "café-noir",
            title: title,
            // The Store holds sanitised HTML (the importer sanitises every body it reads).
            bodyHTML: HTMLSanitizer.sanitize("  <p class=\"lead\">Hello, \"world\" &amp; friends</p>\r\n<ul>\n<li>=1+2</li>\r\n</ul>\r\n  "),
            vendor: #"Smith & Sons, "Ltd.""#,
            productType: "-Posters & Prints",
            tags: ["Still Life", "@home", "+plus", "-minus", "=SUM(1)", "日本語 タグ", "tab\tinside"],
            published: true,
            seoTitle: #""Quoted" SEO, title"#,
            seoDescription: "Line one\nLine two; ünïcödé, \"quoted\"",
            optionNames: ["Size", "Colour, shade", #"Frame "type""#],
            variants: [
                Variant(sku: "=CAFÉ-A4", options: ["A4", "Rouge, foncé", #"Oak "natural""#], priceCents: 4299, compareAtCents: 5000,
                        stock: 7, inventoryPolicy: .continue, grams: 250, requiresShipping: false, taxable: false,
                        barcode: "@0123456789", imageSrc: "/images/caf%C3%A9-1.jpg", weightUnit: "g"),
                Variant(sku: "-CAFÉ-A3", options: ["A3", "Bleu", "None"], priceCents: 5000, stock: 0, weightUnit: "kg"),
                Variant(sku: "+CAFÉ-A2", options: ["A2", "Bleu", #"Oak "natural""#], priceCents: 0, compareAtCents: 1,
                        stock: 1_000_000, barcode: "\"0042\""),
            ],
            images: [
                ProductImage(src: "https://cdn.example.com/a.jpg?x=1,2", position: 1, alt: "Alt, with \"quotes\"\nand a newline"),
                ProductImage(src: "/images/caf%C3%A9-1.jpg", position: 2, alt: "=cmd|' /C calc'!A0"),
                ProductImage(src: "/images/b.png", position: 3),
                ProductImage(src: "https://cdn.example.com/%E6%97%A5.png", position: 4, alt: "日本語"),
            ])
        let draft = Product(
            handle: "plain-draft", title: "Plain draft", published: false,
            variants: [Variant(sku: "plain-draft", options: [], priceCents: 1, stock: 3)])
        return [cafe, draft]
    }
}
