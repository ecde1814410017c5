import Hummingbird
import NIOCore

/// JSON written straight into a response buffer, for the answers every product page asks for
/// (products and stock). Foundation's JSONEncoder builds a tree of boxed values first and was a
/// sixth of the runtime's CPU on /api/stock; these shapes are fixed and small.
struct JSONOutput {
    private(set) var buffer: ByteBuffer

    init(capacity: Int = 512) {
        buffer = ByteBufferAllocator().buffer(capacity: capacity)
    }

    /// Punctuation and keys that the runtime writes itself (never client or catalog text).
    mutating func raw(_ text: StaticString) {
        buffer.writeStaticString(text)
    }

    mutating func int(_ value: Int) {
        buffer.writeString(String(value))
    }

    /// A JSON string: quotes, backslashes and control characters escaped; everything else is
    /// already valid UTF-8 (a Swift String) and goes through as it is.
    mutating func string(_ value: String) {
        buffer.writeInteger(UInt8(ascii: "\""))
        var value = value
        value.withUTF8 { bytes in
            if !bytes.contains(where: Self.needsEscape) {
                buffer.writeBytes(bytes)
                return
            }
            for byte in bytes {
                switch byte {
                case UInt8(ascii: "\""): buffer.writeStaticString("\\\"")
                case UInt8(ascii: "\\"): buffer.writeStaticString("\\\\")
                case 0x0A: buffer.writeStaticString("\\n")
                case 0x0D: buffer.writeStaticString("\\r")
                case 0x09: buffer.writeStaticString("\\t")
                case 0x00..<0x20:
                    let digits: StaticString = "0123456789abcdef"
                    buffer.writeStaticString("\\u00")
                    buffer.writeInteger(digits.utf8Start[Int(byte >> 4)])
                    buffer.writeInteger(digits.utf8Start[Int(byte & 0xF)])
                default: buffer.writeInteger(byte)
                }
            }
        }
        buffer.writeInteger(UInt8(ascii: "\""))
    }

    private static func needsEscape(_ byte: UInt8) -> Bool {
        byte < 0x20 || byte == UInt8(ascii: "\"") || byte == UInt8(ascii: "\\")
    }

    /// A 200 (or the given status) with this JSON as its body.
    func response(status: HTTPResponse.Status = .ok) -> Response {
        Self.response(status: status, body: buffer)
    }

    /// A response with JSON written earlier (a kept answer: the buffer is shared, not copied).
    static func response(status: HTTPResponse.Status = .ok, body: ByteBuffer) -> Response {
        Response(status: status, headers: [.contentType: "application/json; charset=utf-8"], body: .init(byteBuffer: body))
    }
}

extension Substring {
    /// Without ASCII spaces and tabs at either end; Foundation's trimmingCharacters bridges
    /// through NSString and showed up in the runtime's profile.
    var trimmingSpaces: Substring {
        var text = self
        while let first = text.utf8.first, first == 0x20 || first == 0x09 { text = text.dropFirst() }
        while let last = text.utf8.last, last == 0x20 || last == 0x09 { text = text.dropLast() }
        return text
    }
}
