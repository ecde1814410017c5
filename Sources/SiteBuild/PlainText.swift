import Foundation

/// Text of an HTML fragment, for places that want a product body without markup (meta
/// descriptions, JSON-LD, feeds): tags are dropped, block ends become line breaks, common
/// entities decoded.
///
/// Whatever this returns is escaped again when rendered, so it can never inject markup; it
/// only has to read well, not be a full HTML parser.
public enum PlainText {
    static let blockTags: Set<String> = ["p", "br", "div", "li", "tr", "h1", "h2", "h3", "h4", "h5", "h6", "blockquote", "ul", "ol", "table"]
    static let hiddenTags: Set<String> = ["script", "style", "template", "noscript"]
    static let entities: [String: String] = [
        "amp": "&", "lt": "<", "gt": ">", "quot": "\"", "apos": "'", "#39": "'", "nbsp": " ", "ndash": "–", "mdash": "—",
        "hellip": "…", "euro": "€", "pound": "£", "copy": "©", "reg": "®", "trade": "™",
    ]

    /// Not cached: a page works its product's text out once and hands it on (a shared cache
    /// keyed by the body hashed every body in full, with Unicode normalisation, several times).
    public static func fromHTML(_ html: String) -> String {
        convert(html)
    }

    /// Works on UTF-8 bytes: every character it looks for (`<`, `>`, `&`, `;`, tag names) is
    /// ASCII, and ASCII bytes never occur inside a multi-byte character, so everything else is
    /// copied through untouched. Walking Characters instead cost most of a build's text work.
    static func convert(_ html: String) -> String {
        let bytes = Array(html.utf8)
        var out: [UInt8] = []
        out.reserveCapacity(bytes.count)
        var index = 0
        let count = bytes.count
        func lowercased(_ byte: UInt8) -> UInt8 { (0x41...0x5A).contains(byte) ? byte + 0x20 : byte }
        func isAlphanumeric(_ byte: UInt8) -> Bool {
            (0x30...0x39).contains(byte) || (0x41...0x5A).contains(byte) || (0x61...0x7A).contains(byte)
        }
        func firstIndex(of byte: UInt8, from start: Int, limit: Int = .max) -> Int? {
            var position = start
            let end = limit >= count - start ? count : start + limit
            while position < end {
                if bytes[position] == byte { return position }
                position += 1
            }
            return nil
        }
        /// Where `</name` starts (ignoring case) at or after `start`.
        func closingTag(_ name: [UInt8], from start: Int) -> Int? {
            var position = start
            while let open = firstIndex(of: 0x3C, from: position) {
                let nameAt = open + 2
                if nameAt + name.count <= count, bytes[open + 1] == 0x2F {
                    var matches = true
                    for offset in 0..<name.count where lowercased(bytes[nameAt + offset]) != name[offset] {
                        matches = false
                        break
                    }
                    if matches { return open }
                }
                position = open + 1
            }
            return nil
        }
        while index < count {
            let byte = bytes[index]
            if byte == 0x3C, let close = firstIndex(of: 0x3E, from: index) {
                var nameStart = index + 1
                let isClosing = nameStart < close && bytes[nameStart] == 0x2F
                while nameStart < close && bytes[nameStart] == 0x2F { nameStart += 1 }
                var nameEnd = nameStart
                while nameEnd < close && isAlphanumeric(bytes[nameEnd]) { nameEnd += 1 }
                let name = bytes[nameStart..<nameEnd].map(lowercased)
                let tag = String(decoding: name, as: UTF8.self)
                if !isClosing && hiddenTags.contains(tag) {
                    // Script and style bodies may hold "<" and ">": skip straight past their end tag.
                    guard let end = closingTag(name, from: close + 1) else { break }
                    index = firstIndex(of: 0x3E, from: end).map { $0 + 1 } ?? count
                    continue
                }
                if blockTags.contains(tag) && !out.isEmpty && out.last != 0x0A {
                    out.append(0x0A)
                }
                index = close + 1
                continue
            }
            if byte == 0x26, let semicolon = firstIndex(of: 0x3B, from: index, limit: 12) {
                let name = String(decoding: bytes[(index + 1)..<semicolon], as: UTF8.self)
                if let decoded = entities[name] ?? numericEntity(name) {
                    out.append(contentsOf: decoded.utf8)
                    index = semicolon + 1
                    continue
                }
            }
            out.append(byte)
            index += 1
        }
        return collapsingLines(out)
    }

    /// Trims each line and collapses runs of blank lines, over bytes: splitting and trimming the
    /// text as Characters (grapheme breaking) was over a tenth of a 10,000-product build. A line
    /// whose edge is not ASCII is trimmed as Characters, so Unicode spaces go exactly as before.
    static func collapsingLines(_ bytes: [UInt8]) -> String {
        func isASCIISpace(_ byte: UInt8) -> Bool { byte == 0x20 || (0x09...0x0D).contains(byte) }
        var result: [UInt8] = []
        result.reserveCapacity(bytes.count)
        var lastLineEmpty = true  // blank lines at the start are dropped
        var pendingBreak = false
        var lineStart = 0
        while lineStart <= bytes.count {
            let lineEnd = bytes[lineStart...].firstIndex(of: 0x0A) ?? bytes.count
            var start = lineStart, end = lineEnd
            while start < end, isASCIISpace(bytes[start]) { start += 1 }
            while end > start, isASCIISpace(bytes[end - 1]) { end -= 1 }
            var line = ArraySlice(bytes[start..<end])
            if let first = line.first, let last = line.last, first >= 0x80 || last >= 0x80 {
                var text = Substring(String(decoding: line, as: UTF8.self))
                while let first = text.first, first.isWhitespace { text.removeFirst() }
                while let last = text.last, last.isWhitespace { text.removeLast() }
                line = ArraySlice(text.utf8)
            }
            if !(line.isEmpty && lastLineEmpty) {
                if pendingBreak { result.append(0x0A) }
                result.append(contentsOf: line)
                pendingBreak = true
                lastLineEmpty = line.isEmpty
            }
            lineStart = lineEnd + 1
        }
        // No blank lines at the end.
        while result.last == 0x0A { result.removeLast() }
        return String(decoding: result, as: UTF8.self)
    }

    /// `text` on one line: line breaks become spaces (meta descriptions, feed descriptions).
    static func oneLine(_ text: String) -> String {
        guard text.utf8.contains(0x0A) else { return text }
        return String(decoding: text.utf8.map { $0 == 0x0A ? 0x20 : $0 }, as: UTF8.self)
    }

    /// `text` without the characters that HTML5 calls parse errors wherever they stand: C0 controls
    /// other than tab, line feed, form feed and carriage return, DEL and the C1 controls, and the
    /// noncharacters. A catalog value holding one would make its page invalid HTML; escaping cannot
    /// help (a character reference to them is an error too), so they are dropped.
    static func displayable(_ text: String) -> String {
        // Most catalog text has none of the bytes that can start an unfit character (C0 controls
        // but tab, LF, FF and CR; DEL; 0xC2, the lead byte of the C1 controls; 0xEF, of U+FDD0...
        // and U+FFFE/F; 0xF0 and up, of the other planes' noncharacters): no scalar walk then.
        // Over the contiguous bytes with no early exit, which the compiler turns into a few
        // vector instructions: the byte-by-byte `contains` was 2% of a 10,000-product build.
        let maybeUnfit = text.utf8.withContiguousStorageIfAvailable(mayStartUnfitCharacter)
            ?? Array(text.utf8).withUnsafeBufferPointer(mayStartUnfitCharacter)
        guard maybeUnfit, text.unicodeScalars.contains(where: isUnfitForPages) else { return text }
        var kept = String.UnicodeScalarView()
        for scalar in text.unicodeScalars where !isUnfitForPages(scalar) { kept.append(scalar) }
        return String(kept)
    }

    private static func mayStartUnfitCharacter(_ bytes: UnsafeBufferPointer<UInt8>) -> Bool {
        var found: UInt8 = 0
        for byte in bytes {
            let control = byte < 0x20 && byte != 0x09 && byte != 0x0A && byte != 0x0C && byte != 0x0D
            found |= control || byte == 0x7F || byte == 0xC2 || byte >= 0xEF ? 1 : 0
        }
        return found != 0
    }

    static func isUnfitForPages(_ scalar: Unicode.Scalar) -> Bool {
        switch scalar.value {
        case 0x09, 0x0A, 0x0C, 0x0D: return false
        case 0x00..<0x20, 0x7F...0x9F, 0xFDD0...0xFDEF: return true
        default: return scalar.value & 0xFFFE == 0xFFFE
        }
    }

    static func numericEntity(_ name: String) -> String? {
        guard name.hasPrefix("#") else { return nil }
        let digits = name.dropFirst()
        let value = digits.hasPrefix("x") || digits.hasPrefix("X") ? UInt32(digits.dropFirst(), radix: 16) : UInt32(digits)
        guard let value, let scalar = Unicode.Scalar(value), value >= 0x20 || value == 0x0A else { return nil }
        return String(Character(scalar))
    }
}
