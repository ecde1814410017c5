import Foundation

/// A CSV error at a place in a file: what a shop owner needs to find and fix it.
public struct CSVError: Error, Equatable, CustomStringConvertible {
    public var file: String
    public var line: Int
    public var message: String

    public var description: String { "\(file):\(line): \(message)" }
}

/// One CSV record and the physical line it starts on (quoted fields may span lines).
public struct CSVRecord: Sendable {
    public var line: Int
    public var fields: [String]
}

/// A strict RFC 4180 reader that streams a file in chunks, so memory stays flat however large
/// the catalog. Accepts LF or CRLF line ends and a UTF-8 byte order mark. Refuses what would
/// silently change data: an unterminated quote, text after a closing quote, invalid UTF-8, and
/// fields beyond a size limit.
public struct CSVReader: Sequence, IteratorProtocol {
    public static let maxFieldBytes = 1 << 20
    public static let maxFieldsPerRecord = 1000

    public let file: String
    private let handle: FileHandle?
    private var buffer: [UInt8]
    private var position = 0
    private var atEOF = false
    private var line = 1
    private var startedFile = false
    public private(set) var error: CSVError?
    private static let chunkSize = 1 << 16

    /// Reads a file; the name in messages is `displayName` (default: the path as given).
    public init(path: String, displayName: String? = nil) throws {
        file = displayName ?? path
        guard let handle = FileHandle(forReadingAtPath: path) else {
            var isDirectory: ObjCBool = false
            let exists = FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory)
            throw CSVError(file: file, line: 0, message: exists ? (isDirectory.boolValue ? "is a folder, not a CSV file" : "cannot be read") : "no such file")
        }
        self.handle = handle
        buffer = []
    }

    /// Reads CSV text held in memory (tests, small inputs).
    public init(text: String, file: String) {
        self.file = file
        handle = nil
        buffer = Array(text.utf8)
        atEOF = true
    }

    /// The next record, or nil at the end or after an error (then `error` says what went wrong).
    public mutating func next() -> CSVRecord? {
        guard error == nil else { return nil }
        do {
            return try readRecord()
        } catch let csvError as CSVError {
            error = csvError
            return nil
        } catch {
            self.error = CSVError(file: file, line: line, message: "cannot be read: \(error)")
            return nil
        }
    }

    /// Like `next()`, but throws the error instead of keeping it.
    public mutating func nextRecord() throws -> CSVRecord? {
        let record = next()
        if let error { throw error }
        return record
    }

    private mutating func fill() throws -> Bool {
        guard !atEOF, let handle else { return false }
        let data = try handle.read(upToCount: Self.chunkSize) ?? Data()
        if data.isEmpty {
            atEOF = true
            try? handle.close()
            return false
        }
        if position > 0 {
            buffer.removeFirst(position)
            position = 0
        }
        buffer.append(contentsOf: data)
        return true
    }

    /// Next byte, refilling the buffer as needed.
    private mutating func peek() throws -> UInt8? {
        if position >= buffer.count {
            guard try fill() else { return nil }
        }
        return buffer[position]
    }

    private mutating func readRecord() throws -> CSVRecord? {
        if !startedFile {
            startedFile = true
            // Skip a UTF-8 byte order mark (Excel writes one).
            if try peek() == 0xEF {
                while buffer.count - position < 3, try fill() {}
                if buffer.count - position >= 3, buffer[position + 1] == 0xBB, buffer[position + 2] == 0xBF { position += 3 }
            }
        }
        // Skip blank lines between records.
        while let byte = try peek(), byte == UInt8(ascii: "\n") || byte == UInt8(ascii: "\r") {
            position += 1
            // LF and CRLF end a line; so does a lone CR (old Mac files).
            let next = try peek()
            if byte == UInt8(ascii: "\n") || next != UInt8(ascii: "\n") { line += 1 }
        }
        guard try peek() != nil else { return nil }

        let recordLine = line
        var fields: [String] = []
        var field: [UInt8] = []
        var quoted = false
        var quoteLine = line
        var fieldStarted = false  // a field began with a quote
        var afterClosingQuote = false

        func finishField() throws {
            guard let text = String(validating: field, as: UTF8.self) else {
                throw CSVError(file: file, line: recordLine, message: "field \(fields.count + 1) is not valid UTF-8 text")
            }
            fields.append(text)
            guard fields.count <= Self.maxFieldsPerRecord else {
                throw CSVError(file: file, line: recordLine, message: "has more than \(Self.maxFieldsPerRecord) fields")
            }
            field.removeAll(keepingCapacity: true)
            fieldStarted = false
            afterClosingQuote = false
        }

        while true {
            guard let byte = try peek() else {
                if quoted {
                    throw CSVError(file: file, line: quoteLine, message: "a quoted field starts here and is never closed (unbalanced \")")
                }
                try finishField()
                return CSVRecord(line: recordLine, fields: fields)
            }
            position += 1
            if quoted {
                if byte == UInt8(ascii: "\"") {
                    if try peek() == UInt8(ascii: "\"") {
                        position += 1
                        field.append(byte)
                    } else {
                        quoted = false
                        afterClosingQuote = true
                    }
                } else {
                    if byte == UInt8(ascii: "\n") { line += 1 }
                    field.append(byte)
                }
            } else {
                switch byte {
                case UInt8(ascii: ","):
                    try finishField()
                case UInt8(ascii: "\n"):
                    line += 1
                    try finishField()
                    return CSVRecord(line: recordLine, fields: fields)
                case UInt8(ascii: "\r"):
                    if try peek() == UInt8(ascii: "\n") { continue }  // CRLF: the LF ends the record
                    line += 1
                    try finishField()
                    return CSVRecord(line: recordLine, fields: fields)
                case UInt8(ascii: "\""):
                    if field.isEmpty && !fieldStarted && !afterClosingQuote {
                        quoted = true
                        fieldStarted = true
                        quoteLine = line
                    } else {
                        throw CSVError(file: file, line: line, message: "field \(fields.count + 1) has a stray \" (quote the whole field and double the quotes inside it)")
                    }
                default:
                    if afterClosingQuote {
                        throw CSVError(file: file, line: line, message: "field \(fields.count + 1) has text after its closing quote")
                    }
                    field.append(byte)
                }
            }
            if field.count > Self.maxFieldBytes {
                throw CSVError(file: file, line: recordLine, message: "field \(fields.count + 1) is larger than \(Self.maxFieldBytes) bytes")
            }
        }
    }
}
