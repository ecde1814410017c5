/// Text for the XML files of a build (sitemaps, the Atom feed, the Merchant Center feed).
///
/// Catalog text comes from CSV files and admin edits. Besides the five markup characters, XML 1.0
/// forbids most C0 controls and U+FFFE/U+FFFF outright: one of them anywhere makes a parser refuse
/// the whole document, so a single hostile product would cost the shop its feed. They are dropped,
/// never escaped (XML 1.0 has no way to write them).
enum XMLText {
    static func escaped(_ text: String) -> String {
        // Most catalog text has nothing to escape or drop: one pass over the bytes tells.
        if !text.utf8.contains(where: { byte in
            byte < 0x20 || byte == UInt8(ascii: "&") || byte == UInt8(ascii: "<") || byte == UInt8(ascii: ">")
                || byte == UInt8(ascii: "\"") || byte == UInt8(ascii: "'") || byte == 0xEF
        }) {
            return text
        }
        // Over UTF-8 bytes (a feed escapes megabytes of descriptions): the markup characters and
        // C0 controls are single bytes, U+FFFE/U+FFFF are EF BF BE/BF; everything else is copied.
        let bytes = Array(text.utf8)
        var out: [UInt8] = []
        out.reserveCapacity(bytes.count + 64)
        var index = 0
        while index < bytes.count {
            let byte = bytes[index]
            switch byte {
            case UInt8(ascii: "&"): out.append(contentsOf: "&amp;".utf8)
            case UInt8(ascii: "<"): out.append(contentsOf: "&lt;".utf8)
            case UInt8(ascii: ">"): out.append(contentsOf: "&gt;".utf8)
            case UInt8(ascii: "\""): out.append(contentsOf: "&quot;".utf8)
            case UInt8(ascii: "'"): out.append(contentsOf: "&apos;".utf8)
            case 0x09, 0x0A, 0x0D: out.append(byte)
            case 0x00..<0x20: break  // forbidden in XML 1.0: dropped
            case 0xEF where index + 2 < bytes.count && bytes[index + 1] == 0xBF && (bytes[index + 2] == 0xBE || bytes[index + 2] == 0xBF):
                index += 2  // U+FFFE or U+FFFF: dropped
            default: out.append(byte)
            }
            index += 1
        }
        return String(decoding: out, as: UTF8.self)
    }
}
