import Foundation
import Synchronization

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

    /// A product's text is wanted by its page, its meta description, its JSON-LD and two feeds:
    /// work it out once per body. Bounded, so a long-running process does not grow with it.
    private static let cache = Mutex<[String: String]>([:])
    private static let cacheLimit = 20_000

    public static func fromHTML(_ html: String) -> String {
        if let known = cache.withLock({ $0[html] }) { return known }
        let text = convert(html)
        cache.withLock { cache in
            if cache.count >= cacheLimit { cache.removeAll(keepingCapacity: true) }
            cache[html] = text
        }
        return text
    }

    static func convert(_ html: String) -> String {
        var out = ""
        var index = html.startIndex
        var hiddenUntil: String?
        while index < html.endIndex {
            if let hidden = hiddenUntil {
                // Script and style bodies may hold "<" and ">": skip straight to their end tag.
                guard let end = html.range(of: "</\(hidden)", options: .caseInsensitive, range: index..<html.endIndex) else { break }
                hiddenUntil = nil
                index = html[end.upperBound...].firstIndex(of: ">").map { html.index(after: $0) } ?? html.endIndex
                continue
            }
            let character = html[index]
            if character == "<", let close = html[index...].firstIndex(of: ">") {
                let inside = html[html.index(after: index)..<close]
                let isClosing = inside.hasPrefix("/")
                let name = inside.drop(while: { $0 == "/" }).prefix(while: { $0.isLetter || $0.isNumber }).lowercased()
                if !isClosing && hiddenTags.contains(name) {
                    hiddenUntil = name
                } else if blockTags.contains(name) && !out.isEmpty && !out.hasSuffix("\n") {
                    out.append("\n")
                }
                index = html.index(after: close)
                continue
            }
            if character == "&", let semicolon = html[index...].prefix(12).firstIndex(of: ";") {
                let name = String(html[html.index(after: index)..<semicolon])
                if let decoded = entities[name] ?? numericEntity(name) {
                    out.append(decoded)
                    index = html.index(after: semicolon)
                    continue
                }
            }
            out.append(character)
            index = html.index(after: index)
        }
        // Collapse runs of blank lines and trim.
        // Trimmed by hand: Foundation's trimmingCharacters goes through NSString, and this runs per line of every product.
        let lines = out.split(separator: "\n", omittingEmptySubsequences: false).map { line -> Substring in
            var line = line
            while let first = line.first, first.isWhitespace { line.removeFirst() }
            while let last = line.last, last.isWhitespace { line.removeLast() }
            return line
        }
        var result: [Substring] = []
        for line in lines where !(line.isEmpty && (result.last?.isEmpty ?? true)) { result.append(line) }
        while result.last?.isEmpty == true { result.removeLast() }
        return result.joined(separator: "\n")
    }

    /// `text` without the characters that HTML5 calls parse errors wherever they stand: C0 controls
    /// other than tab, line feed, form feed and carriage return, DEL and the C1 controls, and the
    /// noncharacters. A catalog value holding one would make its page invalid HTML; escaping cannot
    /// help (a character reference to them is an error too), so they are dropped.
    static func displayable(_ text: String) -> String {
        guard text.unicodeScalars.contains(where: isUnfitForPages) else { return text }
        var kept = String.UnicodeScalarView()
        for scalar in text.unicodeScalars where !isUnfitForPages(scalar) { kept.append(scalar) }
        return String(kept)
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
