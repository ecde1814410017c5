import Foundation
import ShopCore
import ShopImport
import ShopStore
import ShopTestSupport
import Testing

/// Bad CSVs fail with the file, line, column and value, and leave the database exactly as it was.
///
/// Each test first imports a good fixture, then a bad file whose good rows (before the bad one)
/// would change an existing product and add a new one: neither may reach the database.
@Suite("Malformed Shopify CSVs")
struct MalformedImportTests {
    /// Rows 2 and 3 of every bad file: a changed existing product and a new one.
    static let goodRows: [[String: String]] = [
        ["Handle": "copper-light", "Title": "Copper Light (changed)", "Option1 Name": "Title", "Option1 Value": "Default Title",
         "Variant Price": "1.00", "Image Src": "https://example.com/changed.jpg"],
        ["Handle": "brand-new-lamp", "Title": "Brand New Lamp", "Variant Price": "10", "Variant SKU": "LAMP-1"],
    ]

    /// A store holding home-and-garden.csv, and its catalog as it stands.
    static func prepared() async throws -> (ImportFixture, [Product]) {
        let fixture = try ImportFixture.make()
        _ = try await fixture.importer.importFiles([Repository.shopifyFixture("home-and-garden.csv")])
        let before = try await fixture.catalog()
        try #require(before.count == 20)
        try #require(before.contains { $0.handle == "copper-light" })
        return (fixture, before)
    }

    static func expectUnchanged(_ fixture: ImportFixture, _ before: [Product],
                                sourceLocation: SourceLocation = #_sourceLocation) async throws {
        let after = try await fixture.catalog()
        #expect(after == before, "the database changed", sourceLocation: sourceLocation)
        let newProduct = try await fixture.store.product(handle: "brand-new-lamp")
        #expect(newProduct == nil, sourceLocation: sourceLocation)
        let copper = try await fixture.store.product(handle: "copper-light")
        #expect(copper?.title == "Copper Light", sourceLocation: sourceLocation)
    }

    @Test("(a) An unbalanced quote: CSVError on the line where the quote opens")
    func unbalancedQuote() async throws {
        let (fixture, before) = try await Self.prepared()
        defer { fixture.remove() }
        var text = ShopCSV.file(Self.goodRows)
        text += "bad-quote,\"Unclosed title,,,,,,,,,,,,,,,,,12.00\n"
        text += "another-product,Another,,,,,,,,,,,,,,,,,5.00\n"
        let path = try fixture.directory.write("unbalanced.csv", text)

        let error = try await #require(throws: CSVError.self) { try await fixture.importer.importFiles([path]) }
        #expect(error.file == path)
        #expect(error.line == 4)
        #expect(error.description.contains("unbalanced.csv:4:"))
        try await Self.expectUnchanged(fixture, before)
        try await fixture.store.close()
    }

    @Test("(b) A bad price names column Variant Price and the value")
    func badPrice() async throws {
        let (fixture, before) = try await Self.prepared()
        defer { fixture.remove() }
        let path = try fixture.directory.write("bad-price.csv", ShopCSV.file(Self.goodRows + [
            ["Handle": "bad-price", "Title": "Bad Price", "Variant Price": "12,x"],
        ]))

        let error = try await #require(throws: ImportError.self) { try await fixture.importer.importFiles([path]) }
        #expect(error.file == path)
        #expect(error.line == 4)
        #expect(error.column == "Variant Price")
        #expect(error.value == "12,x")
        #expect(error.description.contains("bad-price.csv:4:"))
        #expect(error.description.contains("Variant Price"))
        #expect(error.description.contains("12,x"))
        try await Self.expectUnchanged(fixture, before)
        try await fixture.store.close()
    }

    @Test("(c) A continuation row whose Handle has no parent row")
    func orphanContinuation() async throws {
        let (fixture, before) = try await Self.prepared()
        defer { fixture.remove() }
        let path = try fixture.directory.write("orphan.csv", ShopCSV.file(Self.goodRows + [
            ["Handle": "orphan", "Option1 Value": "Large", "Variant Price": "5"],
        ]))

        let error = try await #require(throws: ImportError.self) { try await fixture.importer.importFiles([path]) }
        #expect(error.file == path)
        #expect(error.line == 4)
        #expect(error.column == "Handle")
        #expect(error.value == "orphan")
        #expect(error.message.contains("no parent"))
        try await Self.expectUnchanged(fixture, before)
        try await fixture.store.close()
    }

    @Test("(d) A bad row in the second of two files: nothing of the first file is written either")
    func badSecondFile() async throws {
        let (fixture, before) = try await Self.prepared()
        defer { fixture.remove() }
        let first = try fixture.directory.write("first.csv", ShopCSV.file(Self.goodRows))
        let second = try fixture.directory.write("second.csv", ShopCSV.file([
            ["Handle": "second-file-product", "Title": "From the second file", "Variant Price": "3"],
            ["Handle": "bad-stock", "Title": "Bad Stock", "Variant Price": "3", "Variant Inventory Qty": "-2"],
        ]))

        let error = try await #require(throws: ImportError.self) { try await fixture.importer.importFiles([first, second]) }
        #expect(error.file == second)
        #expect(error.line == 3)
        #expect(error.column == "Variant Inventory Qty")
        #expect(error.value == "-2")
        try await Self.expectUnchanged(fixture, before)
        #expect(try await fixture.store.product(handle: "second-file-product") == nil)
        try await fixture.store.close()
    }

    @Test("(e) The same SKU on two products of one file")
    func duplicateSKUAcrossProducts() async throws {
        let (fixture, before) = try await Self.prepared()
        defer { fixture.remove() }
        let path = try fixture.directory.write("dup-sku.csv", ShopCSV.file(Self.goodRows + [
            ["Handle": "dup-a", "Title": "A", "Variant Price": "1", "Variant SKU": "DUP-1"],
            ["Handle": "dup-b", "Title": "B", "Variant Price": "1", "Variant SKU": "DUP-1"],
        ]))

        let error = try await #require(throws: ImportError.self) { try await fixture.importer.importFiles([path]) }
        #expect(error.file == path)
        #expect(error.line == 5)
        #expect(error.column == "Variant SKU")
        #expect(error.value == "DUP-1")
        #expect(error.message.contains("line 4"))
        try await Self.expectUnchanged(fixture, before)
        try await fixture.store.close()
    }

    @Test("(e) The same SKU on two variants of one product")
    func duplicateSKUInProduct() async throws {
        let (fixture, before) = try await Self.prepared()
        defer { fixture.remove() }
        let path = try fixture.directory.write("dup-sku-variant.csv", ShopCSV.file(Self.goodRows + [
            ["Handle": "sizes", "Title": "Sizes", "Option1 Name": "Size", "Option1 Value": "S", "Variant Price": "1", "Variant SKU": "SZ"],
            ["Handle": "sizes", "Option1 Value": "M", "Variant Price": "1", "Variant SKU": "SZ"],
        ]))

        let error = try await #require(throws: ImportError.self) { try await fixture.importer.importFiles([path]) }
        #expect(error.file == path)
        #expect(error.line == 5)
        #expect(error.column == "Variant SKU")
        #expect(error.value == "SZ")
        try await Self.expectUnchanged(fixture, before)
        try await fixture.store.close()
    }

    @Test("(e) A SKU that another product already has in the database is refused by the Store")
    func skuOfExistingProduct() async throws {
        let (fixture, before) = try await Self.prepared()
        defer { fixture.remove() }
        // cream-sofa (in the database, not in this file) has the SKU generated from its handle.
        let path = try fixture.directory.write("steal.csv", ShopCSV.file(Self.goodRows + [
            ["Handle": "lamp-thief", "Title": "Lamp Thief", "Variant Price": "1", "Variant SKU": "cream-sofa"],
        ]))

        await #expect(throws: StoreError.skuTaken(sku: "cream-sofa", ownerHandle: "cream-sofa", wantedBy: "lamp-thief")) {
            try await fixture.importer.importFiles([path])
        }
        try await Self.expectUnchanged(fixture, before)
        try await fixture.store.close()
    }

    @Test("(f) Rows of one product that are not together")
    func nonConsecutiveRows() async throws {
        let (fixture, before) = try await Self.prepared()
        defer { fixture.remove() }
        let path = try fixture.directory.write("split.csv", ShopCSV.file(Self.goodRows + [
            ["Handle": "split", "Title": "Split", "Option1 Name": "Size", "Option1 Value": "S", "Variant Price": "1"],
            ["Handle": "between", "Title": "Between", "Variant Price": "2"],
            ["Handle": "split", "Option1 Value": "M", "Variant Price": "1"],
        ]))

        let error = try await #require(throws: ImportError.self) { try await fixture.importer.importFiles([path]) }
        #expect(error.file == path)
        #expect(error.line == 6)
        #expect(error.column == "Handle")
        #expect(error.value == "split")
        #expect(error.message.contains("line 4"))
        try await Self.expectUnchanged(fixture, before)
        try await fixture.store.close()
    }

    @Test("(g) Negative inventory")
    func negativeInventory() async throws {
        let (fixture, before) = try await Self.prepared()
        defer { fixture.remove() }
        let path = try fixture.directory.write("negative.csv", ShopCSV.file(Self.goodRows + [
            ["Handle": "negative", "Title": "Negative", "Variant Price": "1", "Variant Inventory Qty": "-3"],
        ]))

        let error = try await #require(throws: ImportError.self) { try await fixture.importer.importFiles([path]) }
        #expect(error.file == path)
        #expect(error.line == 4)
        #expect(error.column == "Variant Inventory Qty")
        #expect(error.value == "-3")
        try await Self.expectUnchanged(fixture, before)
        try await fixture.store.close()
    }

    @Test("(h) An Option2 Value when the product names no Option2")
    func optionValueWithoutName() async throws {
        let (fixture, before) = try await Self.prepared()
        defer { fixture.remove() }
        let path = try fixture.directory.write("option2.csv", ShopCSV.file(Self.goodRows + [
            ["Handle": "one-option", "Title": "One Option", "Option1 Name": "Size", "Option1 Value": "A4", "Variant Price": "1"],
            ["Handle": "one-option", "Option1 Value": "A3", "Option2 Value": "Oak", "Variant Price": "2"],
        ]))

        let error = try await #require(throws: ImportError.self) { try await fixture.importer.importFiles([path]) }
        #expect(error.file == path)
        #expect(error.line == 5)
        #expect(error.column == "Option2 Value")
        #expect(error.value == "Oak")
        try await Self.expectUnchanged(fixture, before)
        try await fixture.store.close()
    }

    @Test("Other bad values name their line, column and value", arguments: [
        (["Handle": "bad-handle/x", "Title": "Slash", "Variant Price": "1"], "Handle", "bad-handle/x"),
        (["Handle": "Upper-Case", "Title": "Upper", "Variant Price": "1"], "Handle", "Upper-Case"),
        (["Handle": "no-price", "Title": "No Price", "Option1 Name": "Size", "Option1 Value": "S", "Variant SKU": "NP-1"], "Variant Price", nil),
        (["Handle": "bad-compare", "Title": "Bad", "Variant Price": "1", "Variant Compare At Price": "abc"], "Variant Compare At Price", "abc"),
        (["Handle": "bad-qty", "Title": "Bad", "Variant Price": "1", "Variant Inventory Qty": "1.5"], "Variant Inventory Qty", "1.5"),
        (["Handle": "bad-policy", "Title": "Bad", "Variant Price": "1", "Variant Inventory Policy": "sometimes"], "Variant Inventory Policy", "sometimes"),
        (["Handle": "bad-published", "Title": "Bad", "Variant Price": "1", "Published": "yes"], "Published", "yes"),
        (["Handle": "bad-image", "Title": "Bad", "Variant Price": "1", "Image Src": "javascript:alert(1)"], "Image Src", "javascript:alert(1)"),
        (["Handle": "bad-image-path", "Title": "Bad", "Variant Price": "1", "Image Src": "/images/../../etc/passwd"], "Image Src", "/images/../../etc/passwd"),
        (["Handle": "bad-position", "Title": "Bad", "Variant Price": "1", "Image Src": "/a.jpg", "Image Position": "0"], "Image Position", "0"),
        (["Handle": "alt-no-image", "Title": "Bad", "Variant Price": "1", "Image Alt Text": "lost"], "Image Alt Text", "lost"),
        (["Handle": "gap", "Title": "Gap", "Option2 Name": "Frame", "Option2 Value": "Oak", "Variant Price": "1"], "Option2 Name", "Frame"),
        (["Handle": "sku-comma", "Title": "Bad", "Variant Price": "1", "Variant SKU": "A,B"], "Variant SKU", "A,B"),
    ] as [([String: String], String, String?)])
    func otherBadValues(row: [String: String], column: String, value: String?) async throws {
        let (fixture, before) = try await Self.prepared()
        defer { fixture.remove() }
        let path = try fixture.directory.write("bad.csv", ShopCSV.file(Self.goodRows + [row]))

        let error = try await #require(throws: ImportError.self) { try await fixture.importer.importFiles([path]) }
        #expect(error.file == path)
        #expect(error.line == 4)
        #expect(error.column == column)
        #expect(error.value == value)
        try await Self.expectUnchanged(fixture, before)
        try await fixture.store.close()
    }

    @Test("A file without Shopify's header, an empty file and a missing file are refused")
    func notAShopifyFile() async throws {
        let (fixture, before) = try await Self.prepared()
        defer { fixture.remove() }

        let noHeader = try fixture.directory.write("not-shopify.csv", "name,price\nLamp,10\n")
        let headerError = try await #require(throws: ImportError.self) { try await fixture.importer.importFiles([noHeader]) }
        #expect(headerError.file == noHeader)
        #expect(headerError.line == 1)
        #expect(headerError.column == "Handle")

        let empty = try fixture.directory.write("empty.csv", "")
        let emptyError = try await #require(throws: ImportError.self) { try await fixture.importer.importFiles([empty]) }
        #expect(emptyError.file == empty)
        #expect(emptyError.message.contains("empty"))

        let missing = fixture.directory.file("missing.csv")
        let missingError = try await #require(throws: CSVError.self) { try await fixture.importer.importFiles([missing]) }
        #expect(missingError.file == missing)

        try await Self.expectUnchanged(fixture, before)
        try await fixture.store.close()
    }

    @Test("A product given in two files of one import is refused")
    func productInTwoFiles() async throws {
        let (fixture, before) = try await Self.prepared()
        defer { fixture.remove() }
        let first = try fixture.directory.write("one.csv", ShopCSV.file(Self.goodRows))
        let second = try fixture.directory.write("two.csv", ShopCSV.file([
            ["Handle": "brand-new-lamp", "Title": "Brand New Lamp again", "Variant Price": "11", "Variant SKU": "LAMP-2"],
        ]))
        let error = try await #require(throws: ImportError.self) { try await fixture.importer.importFiles([first, second]) }
        #expect(error.file == second)
        #expect(error.line == 2)
        #expect(error.column == "Handle")
        #expect(error.message.contains("one.csv"))
        try await Self.expectUnchanged(fixture, before)
        try await fixture.store.close()
    }
}
