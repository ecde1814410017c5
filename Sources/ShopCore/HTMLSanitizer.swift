import CLibXML2

/// Makes a product description written by a stranger safe to put into a page as it is.
///
/// Shopify's `Body (HTML)` is raw HTML from whoever wrote the CSV. It is parsed by libxml2's HTML
/// parser, which recovers from broken markup much as a browser does, and the tree is written back
/// by our own writer, which knows only an allowlist:
///
/// - Formatting: `p`, `br`, `strong`, `b`, `em`, `i`, `u`, `s`, lists, `h2`-`h4`, `blockquote`
///   and tables, all without attributes but for `colspan`/`rowspan` of 1 to 100 on cells.
/// - Links to `http:`, `https:` and `mailto:` only, always with `rel="nofollow noopener"`: a shop
///   must not lend its ranking, nor its window, to a stranger's link. Any other link loses its tag
///   and keeps its text.
/// - Every other element loses its tag and keeps its text, except those whose content is code, a
///   document of its own or a form (`script`, `style`, `iframe`, `svg`, `form`, ...): they go with
///   all they hold, since their text was never meant to be read as the description.
/// - Comments, processing instructions, CDATA and doctypes go.
///
/// What a browser parses from the output can only hold what the writer allowed, however the input
/// tried to confuse a parser: the writer escapes all text, writes no raw-text element and no
/// attribute but the few above. The same input always gives the same bytes, and sanitising the
/// output again leaves it as it is.
///
/// Bounds: only the first `maxInputBytes` of the input are read (cut at a character boundary; the
/// rest is dropped, not refused, so an import never fails on a long description). libxml2 stops
/// reading at 256 levels of nesting: what follows such a tower is lost. The output nests at most
/// `maxOpenElements` elements; deeper ones lose their tags and keep their text.
///
/// Safe to call from any number of threads at once: each call parses with its own libxml2 context,
/// and libxml2's one unsafe step, its initialisation, runs once behind a Swift `static let`.
public enum HTMLSanitizer {
    /// The same limit as a CSV field (`CSVReader.maxFieldBytes`), so a body read from a CSV is
    /// never cut; longer input, from elsewhere, is sanitised up to here and the rest dropped.
    public static let maxInputBytes = 1 << 20

    /// The deepest nesting of elements the output holds.
    public static let maxOpenElements = 200

    /// Sanitised HTML for a product page; "" for empty or whitespace-only input.
    public static func sanitize(_ html: String) -> String {
        guard html.utf8.contains(where: { !isASCIIWhitespace($0) }) else { return "" }
        let utf8 = html.utf8
        var end = utf8.index(utf8.startIndex, offsetBy: maxInputBytes, limitedBy: utf8.endIndex) ?? utf8.endIndex
        while end != utf8.endIndex, end != utf8.startIndex, utf8[end] & 0xC0 == 0x80 {
            utf8.formIndex(before: &end)
        }
        let once = pass(utf8[..<end])
        // Unwrapping can leave a nesting libxml2 would not have built itself (the <p> of
        // "<h3><div><p>"), which the next reading reshapes. A second pass settles it, so that
        // sanitising the output again changes nothing and an export and re-import keeps a body as
        // it was. Input that lost no element needs no second pass.
        return once.reshaped ? pass(once.html.utf8).html : once.html
    }

    /// One parse and write. `reshaped` says whether an element was dropped or unwrapped.
    private static func pass(_ html: some Collection<UInt8>) -> (html: String, reshaped: Bool) {
        _ = libxml2Ready
        // Without an open body, libxml2 wraps text at the top in an implied <p>: "text" would come
        // out as "<p>text</p>", changing every plain-text description, and every second pass.
        // A <body> in the input after this one is ignored.
        var source = Array("<body>".utf8)
        source.append(contentsOf: html)

        let parsed: xmlDocPtr? = source.withUnsafeBufferPointer { bytes in
            bytes.withMemoryRebound(to: CChar.self) { ishop_html_parse($0.baseAddress, Int32($0.count)) }
        }
        guard let document = parsed else { return ("", false) }
        defer { xmlFreeDoc(document) }

        // From the document itself, not its body: libxml2 puts text that follows a </body> or
        // </html> in the input beside the body, and it is still the description.
        let (output, reshaped) = write(from: document.pointee.children)
        guard let first = output.firstIndex(where: { !isASCIIWhitespace($0) }),
              let last = output.lastIndex(where: { !isASCIIWhitespace($0) })
        else { return ("", reshaped) }
        return (String(decoding: output[first...last], as: UTF8.self), reshaped)
    }

    /// Elements written as they are (attributes aside).
    static let keptElements: Set<String> = [
        "p", "br", "strong", "b", "em", "i", "u", "s", "ul", "ol", "li", "h2", "h3", "h4",
        "blockquote", "table", "thead", "tbody", "tr", "th", "td", "a",
    ]

    /// Elements dropped together with everything inside them.
    static let droppedWithContent: Set<String> = [
        "script", "style", "iframe", "object", "embed", "template", "noscript", "svg", "math",
        "title", "head", "textarea", "select", "button", "form", "input", "frame", "frameset",
        "applet", "base", "link", "meta",
    ]

    static let linkSchemes: Set<String> = ["http", "https", "mailto"]

    private static let libxml2Ready: Void = { ishop_xml_initialize() }()

    /// One level of the walk: the next sibling to write and the end tag owed when the level is done.
    private struct Level {
        var next: xmlNodePtr?
        var endTag: String?
    }

    /// Writes the nodes from `first` on, and everything below them, as sanitised HTML (UTF-8),
    /// and says whether an element was dropped or unwrapped on the way. An explicit stack rather
    /// than recursion, so no input can exhaust the thread's stack.
    private static func write(from first: xmlNodePtr?) -> (html: [UInt8], reshaped: Bool) {
        var output: [UInt8] = []
        var reshaped = false
        var levels = [Level(next: first, endTag: nil)]
        var openElements = 0
        while !levels.isEmpty {
            guard let node = levels[levels.count - 1].next else {
                if let endTag = levels.removeLast().endTag {
                    output.append(contentsOf: "</\(endTag)>".utf8)
                    openElements -= 1
                }
                continue
            }
            levels[levels.count - 1].next = node.pointee.next

            if node.pointee.type == XML_TEXT_NODE {
                if let content = node.pointee.content { appendEscaped(content, to: &output) }
                continue
            }
            // Comments, processing instructions, CDATA, the doctype: nothing of them is kept.
            guard node.pointee.type == XML_ELEMENT_NODE, let rawName = node.pointee.name else { continue }
            let name = String(cString: rawName).lowercased()
            if droppedWithContent.contains(name) {
                reshaped = true
                continue
            }

            var endTag: String?
            if name == "br" {
                output.append(contentsOf: "<br>".utf8)
            } else if keptElements.contains(name), openElements < maxOpenElements, let tag = startTag(of: node, named: name) {
                output.append(contentsOf: tag.utf8)
                endTag = name
                openElements += 1
            } else if name != "html", name != "body" {
                // html and body are libxml2's own wrappers (one of them ours), in every document.
                reshaped = true
            }
            levels.append(Level(next: node.pointee.children, endTag: endTag))
        }
        return (output, reshaped)
    }

    /// The start tag a kept element is written with, or nil when it is to be unwrapped (a link
    /// whose target is not allowed).
    private static func startTag(of element: xmlNodePtr, named name: String) -> String? {
        switch name {
        case "a":
            guard let value = attribute("href", of: element), let href = linkTarget(value) else { return nil }
            return "<a href=\"\(escapedAttribute(href))\" rel=\"nofollow noopener\">"
        case "td", "th":
            // A fixed order, whatever the input's, so the output is the same for the same cell.
            var tag = "<" + name
            if let value = attribute("colspan", of: element), let span = cellSpan(value) { tag += " colspan=\"\(span)\"" }
            if let value = attribute("rowspan", of: element), let span = cellSpan(value) { tag += " rowspan=\"\(span)\"" }
            return tag + ">"
        default:
            return "<\(name)>"
        }
    }

    /// The value of an element's attribute, entities already decoded by the parser, or nil if
    /// it has none. libxml2 keeps the first of repeated attributes.
    private static func attribute(_ name: String, of element: xmlNodePtr) -> String? {
        var candidate = element.pointee.properties
        while let current = candidate {
            if let rawName = current.pointee.name, String(cString: rawName).lowercased() == name {
                var value = ""
                var part = current.pointee.children
                while let text = part {
                    if text.pointee.type == XML_TEXT_NODE, let content = text.pointee.content {
                        value += String(cString: content)
                    }
                    part = text.pointee.next
                }
                return value
            }
            candidate = current.pointee.next
        }
        return nil
    }

    /// The href a link keeps, or nil. `value` is already entity-decoded, so `jav&#x09;ascript:`
    /// arrives as "jav\tascript:". Browsers strip leading and trailing controls and spaces and
    /// ignore tabs and newlines inside a URL; here every control character goes, so that the
    /// scheme checked is the scheme a browser would see. A space left inside becomes %20, which
    /// is what a browser would send; in the scheme it makes the link relative, and so refused.
    static func linkTarget(_ value: String) -> String? {
        var scalars = Substring(value).unicodeScalars
        while let first = scalars.first, first.value <= 0x20 { scalars.removeFirst() }
        while let last = scalars.last, last.value <= 0x20 { scalars.removeLast() }
        var cleaned = String.UnicodeScalarView()
        for scalar in scalars {
            switch scalar.value {
            case 0..<0x20, 0x7F...0x9F: continue
            case 0x20: cleaned.append(contentsOf: "%20".unicodeScalars)
            default: cleaned.append(scalar)
            }
        }
        let target = String(cleaned)
        // No colon: a relative or protocol-relative URL, which would point into the shop itself.
        guard let colon = target.firstIndex(of: ":") else { return nil }
        let scheme = target[..<colon]
        // ASCII only: lowercasing other letters can turn them into ASCII ones (the Kelvin sign is a k).
        guard scheme.allSatisfy(\.isASCII), linkSchemes.contains(scheme.lowercased()) else { return nil }
        return target
    }

    /// A colspan or rowspan written as a plain number from 1 to 100, or nil.
    static func cellSpan(_ value: String) -> Int? {
        let bytes = Array(value.utf8)
        guard let first = bytes.firstIndex(where: { !isASCIIWhitespace($0) }),
              let last = bytes.lastIndex(where: { !isASCIIWhitespace($0) })
        else { return nil }
        let digits = bytes[first...last]
        guard digits.count <= 3, digits.allSatisfy({ $0 >= UInt8(ascii: "0") && $0 <= UInt8(ascii: "9") }) else { return nil }
        let number = digits.reduce(0) { $0 * 10 + Int($1 - UInt8(ascii: "0")) }
        return (1...100).contains(number) ? number : nil
    }

    /// Appends a text node's bytes (NUL-terminated UTF-8), escaped for HTML text.
    private static func appendEscaped(_ text: UnsafePointer<xmlChar>, to output: inout [UInt8]) {
        var byte = text
        while byte.pointee != 0 {
            switch byte.pointee {
            case UInt8(ascii: "&"): output.append(contentsOf: "&amp;".utf8)
            case UInt8(ascii: "<"): output.append(contentsOf: "&lt;".utf8)
            case UInt8(ascii: ">"): output.append(contentsOf: "&gt;".utf8)
            default: output.append(byte.pointee)
            }
            byte += 1
        }
    }

    /// A value escaped for a double-quoted attribute.
    private static func escapedAttribute(_ value: String) -> String {
        var escaped = ""
        escaped.reserveCapacity(value.utf8.count)
        for scalar in value.unicodeScalars {
            switch scalar {
            case "&": escaped += "&amp;"
            case "<": escaped += "&lt;"
            case ">": escaped += "&gt;"
            case "\"": escaped += "&quot;"
            default: escaped.unicodeScalars.append(scalar)
            }
        }
        return escaped
    }

    /// HTML's ASCII whitespace: space, tab, line feed, form feed, carriage return.
    static func isASCIIWhitespace(_ byte: UInt8) -> Bool {
        byte == 0x20 || byte == 0x09 || byte == 0x0A || byte == 0x0C || byte == 0x0D
    }
}
