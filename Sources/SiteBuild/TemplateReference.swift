/// A partial (`{{> name}}`) or parent (`{{<name}}`) that a template's source names, with its line.
///
/// swift-mustache renders a partial it cannot find as nothing, and a parent it cannot find as
/// nothing at all: a misspelt name would publish thousands of pages with a hole in them. The
/// theme stage checks every name found here against the templates it loaded.
///
/// Found with a small tokenizer that follows Mustache's own reading of tags (comments end at the
/// first closing delimiter, `{{{name}}}` has a third brace, `{{=<% %>=}}` changes the delimiters),
/// so text that merely looks like a tag inside a comment is not taken for one.
struct TemplateReference: Equatable {
    enum Kind: Equatable {
        case partial, parent
    }

    var kind: Kind
    var name: String
    /// 1-based line of the tag in the template file.
    var line: Int

    static func scan(_ source: String) -> [TemplateReference] {
        let bytes = Array(source.utf8)
        var opening = Array("{{".utf8)
        var closing = Array("}}".utf8)
        var references: [TemplateReference] = []
        var line = 1
        var index = 0

        func matches(_ pattern: [UInt8], at position: Int) -> Bool {
            guard !pattern.isEmpty, position + pattern.count <= bytes.count else { return false }
            for offset in pattern.indices where bytes[position + offset] != pattern[offset] { return false }
            return true
        }

        func firstMatch(of pattern: [UInt8], from position: Int) -> Int? {
            var cursor = position
            while cursor + pattern.count <= bytes.count {
                if matches(pattern, at: cursor) { return cursor }
                cursor += 1
            }
            return nil
        }

        while index < bytes.count {
            guard matches(opening, at: index) else {
                if bytes[index] == newline { line += 1 }
                index += 1
                continue
            }
            let tagLine = line
            let bodyStart = index + opening.count
            // An unclosed tag is a syntax error the parser has already reported.
            guard let bodyEnd = firstMatch(of: closing, from: bodyStart) else { break }
            var tagEnd = bodyEnd + closing.count
            let body = bytes[bodyStart..<bodyEnd]
            let sigil = body.first ?? 0
            switch sigil {
            case UInt8(ascii: "{"):
                if tagEnd < bytes.count, bytes[tagEnd] == UInt8(ascii: "}") { tagEnd += 1 }
            case UInt8(ascii: ">"), UInt8(ascii: "<"):
                let name = trimmed(body.dropFirst())
                // `{{>*name}}` takes its name from the context at render time: nothing to check here.
                if !name.isEmpty, !name.hasPrefix("*") {
                    references.append(TemplateReference(
                        kind: sigil == UInt8(ascii: ">") ? .partial : .parent, name: name, line: tagLine))
                }
            case UInt8(ascii: "="):
                var delimiters = body.dropFirst()
                if delimiters.last == UInt8(ascii: "=") { delimiters = delimiters.dropLast() }
                let parts = delimiters.split(whereSeparator: isWhitespace)
                if parts.count == 2 {
                    opening = Array(parts[0])
                    closing = Array(parts[1])
                }
            default:
                break
            }
            for byte in bytes[index..<tagEnd] where byte == newline { line += 1 }
            index = tagEnd
        }
        return references
    }

    private static let newline = UInt8(ascii: "\n")

    private static func isWhitespace(_ byte: UInt8) -> Bool {
        byte == 0x20 || byte == 0x09 || byte == 0x0A || byte == 0x0D
    }

    private static func trimmed(_ bytes: ArraySlice<UInt8>) -> String {
        guard let first = bytes.firstIndex(where: { !isWhitespace($0) }),
              let last = bytes.lastIndex(where: { !isWhitespace($0) })
        else { return "" }
        return String(decoding: bytes[first...last], as: UTF8.self)
    }
}
