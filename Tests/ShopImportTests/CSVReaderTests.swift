import Foundation
import ShopImport
import ShopTestSupport
import Testing

@Suite("CSVReader")
struct CSVReaderTests {
    static func records(_ text: String) throws -> [CSVRecord] {
        var reader = CSVReader(text: text, file: "test.csv")
        var records: [CSVRecord] = []
        while let record = try reader.nextRecord() { records.append(record) }
        return records
    }

    static func csvError(_ text: String, sourceLocation: SourceLocation = #_sourceLocation) throws -> CSVError {
        try #require(throws: CSVError.self, sourceLocation: sourceLocation) { try records(text) }
    }

    @Test("Quoted fields may hold commas and doubled quotes")
    func quotedFields() throws {
        let records = try Self.records("a,\"b,c\",d\n\"say \"\"hi\"\"\",\"\",x\n")
        #expect(records.map(\.fields) == [["a", "b,c", "d"], ["say \"hi\"", "", "x"]])
        #expect(records.map(\.line) == [1, 2])
    }

    @Test("Empty fields, a trailing comma and a last line without a newline")
    func emptyFields() throws {
        let records = try Self.records("a,,b,\n,\nlast,line")
        #expect(records.map(\.fields) == [["a", "", "b", ""], ["", ""], ["last", "line"]])
        #expect(records.map(\.line) == [1, 2, 3])
    }

    @Test("A record's line is the line where it starts, even after fields spanning lines")
    func embeddedNewlines() throws {
        let text = "h1,h2\n\"line one\nline two\nline three\",x\nnext,\"a\nb\"\nlast,z\n"
        let records = try Self.records(text)
        #expect(records.map(\.fields) == [
            ["h1", "h2"], ["line one\nline two\nline three", "x"], ["next", "a\nb"], ["last", "z"],
        ])
        #expect(records.map(\.line) == [1, 2, 5, 7])
    }

    @Test("CRLF line ends end records; a CRLF inside quotes is kept")
    func crlf() throws {
        let records = try Self.records("a,b\r\nc,\"d\r\ne\"\r\nf,g\r\n")
        #expect(records.map(\.fields) == [["a", "b"], ["c", "d\r\ne"], ["f", "g"]])
        #expect(records.map(\.line) == [1, 2, 4])
    }

    @Test("A UTF-8 byte order mark is skipped")
    func byteOrderMark() throws {
        let records = try Self.records("\u{FEFF}Handle,Title\nfig,Fig\n")
        #expect(records.first?.fields == ["Handle", "Title"])
        #expect(records.map(\.line) == [1, 2])
        // Only at the very start: elsewhere it is data.
        let later = try Self.records("a\n\u{FEFF}b\n")
        #expect(later.last?.fields == ["\u{FEFF}b"])
    }

    @Test("Blank lines between records are skipped and still counted")
    func blankLines() throws {
        let records = try Self.records("\n\na,b\n\n\nc,d\r\n\r\ne,f\n\n")
        #expect(records.map(\.fields) == [["a", "b"], ["c", "d"], ["e", "f"]])
        #expect(records.map(\.line) == [3, 6, 8])
    }

    @Test("Text that is not ASCII survives")
    func unicode() throws {
        let records = try Self.records("Café,\"Größe, Ünïcödé\",日本,🖼️\n")
        #expect(records.first?.fields == ["Café", "Größe, Ünïcödé", "日本", "🖼️"])
    }

    @Test("An empty text has no records")
    func empty() throws {
        #expect(try Self.records("").isEmpty)
        #expect(try Self.records("\n\r\n\n").isEmpty)
    }

    @Test("An unterminated quote is an error on the line where the quote opens")
    func unterminatedQuote() throws {
        let error = try Self.csvError("h1,h2\na,b\nc,\"never closed\nmore text\nand more\n")
        #expect(error.line == 3)
        #expect(error.file == "test.csv")
        #expect(error.message.contains("never closed"))
        #expect(error.description.hasPrefix("test.csv:3:"))
    }

    @Test("A stray quote inside an unquoted field is an error on its line")
    func strayQuote() throws {
        let error = try Self.csvError("h1,h2\nab\"c,d\n")
        #expect(error.line == 2)
        #expect(error.message.contains("stray"))
        #expect(error.message.contains("field 1"))
    }

    @Test("Text after a closing quote is an error on its line")
    func textAfterClosingQuote() throws {
        let error = try Self.csvError("h1,h2\nx,\"ab\"c\n")
        #expect(error.line == 2)
        #expect(error.message.contains("after its closing quote"))
        #expect(error.message.contains("field 2"))

        let spaced = try Self.csvError("h1,h2\n\"ab\" ,c\n")
        #expect(spaced.line == 2)
    }

    @Test("Errors after a record spanning lines give the physical line")
    func errorLineAfterMultilineRecord() throws {
        let error = try Self.csvError("h1,h2\n\"one\ntwo\nthree\",x\nbad\"quote,y\n")
        #expect(error.line == 5)
    }

    @Test("Records read before an error are still returned; then the error is kept")
    func errorStopsReading() throws {
        var reader = CSVReader(text: "a,b\nc\"d,e\nf,g\n", file: "t.csv")
        let first = try reader.nextRecord()
        #expect(first?.fields == ["a", "b"])
        #expect(throws: CSVError.self) { try reader.nextRecord() }
        let afterError = reader.next()
        #expect(afterError?.fields == nil)
        #expect(reader.error?.line == 2)
    }

    @Test("Invalid UTF-8 in a file is an error naming the file and the record's line")
    func invalidUTF8() throws {
        let directory = try TemporaryFolder("import-tests")
        defer { directory.remove() }
        let path = try directory.write("latin1.csv", Array("Handle,Title\nok,Fine\n".utf8) + [0x62, 0x61, 0x64, 0x2C, 0x43, 0x61, 0x66, 0xE9, 0xFF, 0x0A])
        var reader = try CSVReader(path: path)
        let header = try reader.nextRecord()
        let good = try reader.nextRecord()
        #expect(header?.fields == ["Handle", "Title"])
        #expect(good?.fields == ["ok", "Fine"])
        let error = try #require(throws: CSVError.self) { try reader.nextRecord() }
        #expect(error.line == 3)
        #expect(error.file == path)
        #expect(error.message.contains("UTF-8"))
        #expect(error.message.contains("field 2"))

        var named = try CSVReader(path: path, displayName: "catalog.csv")
        while (try? named.nextRecord()) != nil {}
        #expect(named.error?.file == "catalog.csv")
    }

    @Test("A missing file is an error naming it")
    func missingFile() throws {
        let path = NSTemporaryDirectory() + "ishop-no-such-\(UUID().uuidString).csv"
        let error = try #require(throws: CSVError.self) { try CSVReader(path: path) }
        #expect(error.file == path)
        #expect(error.message.contains("no such file"))
    }

    @Test("A file read in chunks gives the same records, even with a quote pair or CRLF split between chunks")
    func chunkBoundaries() throws {
        let directory = try TemporaryFolder("import-tests")
        defer { directory.remove() }
        let chunk = 1 << 16  // the reader's chunk size
        // Line 1 is "a,b\n" (4 bytes); line 2 starts with x," so the padding begins at byte 7.
        // The doubled quote then takes bytes chunk-1 and chunk: one on each side of the boundary.
        let padding = String(repeating: "p", count: chunk - 1 - 7)
        let quoteSplit = "a,b\n" + "x,\"" + padding + "\"\"tail\"\n" + "y,z\n"
        let path = try directory.write("split-quote.csv", quoteSplit)
        var reader = try CSVReader(path: path)
        var records: [CSVRecord] = []
        while let record = try reader.nextRecord() { records.append(record) }
        #expect(records.count == 3)
        #expect(records.dropFirst().first?.fields == ["x", padding + "\"tail"])
        #expect(records.last?.fields == ["y", "z"])
        #expect(records.map(\.line) == [1, 2, 3])

        // A CRLF whose CR is the last byte of the first chunk.
        let crlfSplit = "a,b\r\n" + "x," + String(repeating: "q", count: chunk - 1 - 7) + "\r\n" + "y,z\r\n"
        let crlfPath = try directory.write("split-crlf.csv", crlfSplit)
        var crlfReader = try CSVReader(path: crlfPath)
        var crlfRecords: [CSVRecord] = []
        while let record = try crlfReader.nextRecord() { crlfRecords.append(record) }
        #expect(crlfRecords.map(\.fields.count) == [2, 2, 2])
        #expect(crlfRecords.last?.fields == ["y", "z"])
        #expect(crlfRecords.map(\.line) == [1, 2, 3])

        // And a larger file of many records compares equal to reading the same text from memory.
        var big = "id,text\r\n"
        for index in 0..<5000 {
            big += "\(index),\"row \(index) says \"\"hello\"\", then\nwraps\"\r\n"
        }
        let bigPath = try directory.write("big.csv", big)
        var fileReader = try CSVReader(path: bigPath)
        var memoryReader = CSVReader(text: big, file: "big.csv")
        var count = 0
        while let fromFile = try fileReader.nextRecord() {
            let next = try memoryReader.nextRecord()
            let fromMemory = try #require(next)
            #expect(fromFile.fields == fromMemory.fields)
            #expect(fromFile.line == fromMemory.line)
            count += 1
        }
        let afterLast = try memoryReader.nextRecord()
        #expect(afterLast?.fields == nil)
        #expect(count == 5001)
    }

    /// A lone CR ends a record (old Mac line ends), so a blank line made of a lone CR must count as a line too.
    @Test("Lone-CR line ends count lines the same way as LF")
    func loneCarriageReturns() throws {
        let records = try Self.records("a\rb\r\rc\r")
        #expect(records.map(\.fields) == [["a"], ["b"], ["c"]])
        #expect(records.map(\.line) == [1, 2, 4])
    }
}
