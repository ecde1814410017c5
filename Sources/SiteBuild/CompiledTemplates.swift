/// The theme's Mustache templates, compiled once per build and rendered straight into bytes.
///
/// swift-mustache reads the templates first (Theme.load): its parser is the judge of what is valid
/// Mustache and gives the messages with file and line. Pages are then rendered here, over typed
/// `TemplateValue` contexts: swift-mustache looks every tag's name up with a string split and
/// dynamic casts of `Any` and builds the page by string concatenation, which was over half of a
/// 10,000-product build (docs/benchmarks.md). Names are split once here, a lookup is a dictionary
/// probe, and output is appended to one byte buffer.
///
/// What is rendered is the Mustache spec (interpolation, sections, inverted sections, comments,
/// partials with standalone indentation, set delimiters, inheritance with parents and blocks) with
/// swift-mustache's reading of truthiness: only `false`, an empty list and a missing name are
/// false (an empty string and 0 are true). swift-mustache's own additions (transforms such as
/// `{{uppercased(name)}}`, lambdas) are refused with the file and line (docs/themes.md).
struct CompiledTemplates: Sendable {
    private var templates: [String: [TemplateNode]] = [:]
    private var sources: [String: (text: String, file: String)] = [:]
    /// A partial included by a standalone tag with indentation, compiled with that indentation
    /// before each of its lines (the spec's rule: the partial's lines are indented, not the data
    /// it shows), keyed by `TemplateNode.indentedKey`.
    private var indented: [String: [TemplateNode]] = [:]

    init() {}

    /// Compiles `text` as template `name`; `file` is named in errors.
    mutating func add(_ text: String, named name: String, file: String) throws {
        templates[name] = try TemplateParser(text: text, file: file).parse()
        sources[name] = (text, file)
        try compileIndentedPartials()
    }

    /// Every indented inclusion of a known partial, compiled once; nested ones too (their
    /// indentation adds up). Bounded: a partial that includes itself indented would never end.
    private mutating func compileIndentedPartials() throws {
        var queue = Array(templates.values) + Array(indented.values)
        while let nodes = queue.popLast() {
            for (name, indentation) in Self.indentedPartials(in: nodes) {
                let key = TemplateNode.indentedKey(name, indentation)
                guard indented[key] == nil, let source = sources[name], indented.count < 256 else { continue }
                var text: [UInt8] = []
                var atLineStart = true
                for byte in source.text.utf8 {
                    if atLineStart { text.append(contentsOf: indentation) }
                    text.append(byte)
                    atLineStart = byte == 0x0A
                }
                let variant = try TemplateParser(text: String(decoding: text, as: UTF8.self), file: source.file).parse()
                indented[key] = variant
                queue.append(variant)
            }
        }
    }

    private static func indentedPartials(in nodes: [TemplateNode]) -> [(String, [UInt8])] {
        var found: [(String, [UInt8])] = []
        for node in nodes {
            switch node {
            case .partial(let name, let indentation, _) where !indentation.isEmpty: found.append((name, indentation))
            case .section(_, let children, _), .block(_, let children): found += indentedPartials(in: children)
            case .parent(_, let blocks): for children in blocks.values { found += indentedPartials(in: children) }
            default: break
            }
        }
        return found
    }

    /// Renders template `name` with `context` as the bottom of the context stack.
    func render(_ name: String, context: TemplateValue) -> [UInt8]? {
        guard let nodes = templates[name] else { return nil }
        var renderer = TemplateRenderer(templates: templates, indented: indented)
        var stack = [context]
        renderer.out.reserveCapacity(16 * 1024)
        renderer.render(nodes, stack: &stack, blocks: [:])
        return renderer.out
    }
}

/// A tag's name, split at its dots once: `product.title` is ["product", "title"]; `.` is the
/// current item; a leading dot (`.title`, swift-mustache's) looks in the current item only.
struct TemplateName: Sendable {
    let parts: [String]
    let isCurrentItem: Bool
    let currentOnly: Bool

    init(_ name: String) {
        isCurrentItem = name == "."
        currentOnly = !isCurrentItem && name.hasPrefix(".")
        parts = isCurrentItem ? [] : name.split(separator: ".", omittingEmptySubsequences: false).dropFirst(currentOnly ? 1 : 0).map(String.init)
    }
}

indirect enum TemplateNode: Sendable {
    case text([UInt8])
    case value(TemplateName, escaped: Bool)
    case section(TemplateName, [TemplateNode], inverted: Bool)
    /// `{{>name}}`; standalone with indentation, `indentedKey` names its indented variant.
    case partial(String, indentation: [UInt8], indentedKey: String?)
    /// `{{<name}}` with the blocks it fills in.
    case parent(String, blocks: [String: [TemplateNode]])
    /// `{{$name}}` with its default content.
    case block(String, [TemplateNode])

    static func indentedKey(_ name: String, _ indentation: [UInt8]) -> String {
        name + "\u{0}" + String(decoding: indentation, as: UTF8.self)
    }
}

struct TemplateRenderer {
    let templates: [String: [TemplateNode]]
    let indented: [String: [TemplateNode]]
    var out: [UInt8] = []
    private var depth = 0

    init(templates: [String: [TemplateNode]], indented: [String: [TemplateNode]]) {
        self.templates = templates
        self.indented = indented
    }

    /// Partials and parents nested deeper than this render nothing (a template that includes itself).
    private static let maximumDepth = 64

    mutating func render(_ nodes: [TemplateNode], stack: inout [TemplateValue], blocks: [String: [TemplateNode]]) {
        for node in nodes {
            switch node {
            case .text(let bytes):
                out.append(contentsOf: bytes)
            case .value(let name, let escaped):
                guard let value = Self.lookUp(name, in: stack) else { continue }
                switch value {
                case .text(let text): escaped ? Self.appendEscaped(text, to: &out) : out.append(contentsOf: text.utf8)
                case .number(let number): out.append(contentsOf: String(number).utf8)
                case .flag(let flag): out.append(contentsOf: (flag ? "true" : "false").utf8)
                case .list, .fields: continue
                }
            case .section(let name, let children, let inverted):
                let value = Self.lookUp(name, in: stack)
                if inverted {
                    if Self.isFalse(value) { render(children, stack: &stack, blocks: blocks) }
                    continue
                }
                switch value {
                case nil, .flag(false): continue
                case .flag(true): render(children, stack: &stack, blocks: blocks)
                case .list(let items):
                    for item in items {
                        stack.append(item)
                        render(children, stack: &stack, blocks: blocks)
                        stack.removeLast()
                    }
                case .some(let value):
                    stack.append(value)
                    render(children, stack: &stack, blocks: blocks)
                    stack.removeLast()
                }
            case .partial(let name, _, let indentedKey):
                guard let partial = indentedKey.flatMap({ indented[$0] }) ?? templates[name], depth < Self.maximumDepth else { continue }
                depth += 1
                render(partial, stack: &stack, blocks: blocks)
                depth -= 1
            case .parent(let name, let overrides):
                guard let parent = templates[name], depth < Self.maximumDepth else { continue }
                // Blocks filled in further out (a child of this child) win over this one's.
                let merged = overrides.merging(blocks) { _, outer in outer }
                depth += 1
                render(parent, stack: &stack, blocks: merged)
                depth -= 1
            case .block(let name, let defaults):
                render(blocks[name] ?? defaults, stack: &stack, blocks: blocks)
            }
        }
    }

    static func isFalse(_ value: TemplateValue?) -> Bool {
        switch value {
        case nil, .flag(false): true
        case .list(let items): items.isEmpty
        default: false
        }
    }

    /// The spec's lookup: the first name from the top of the stack down, the rest inside what it found.
    static func lookUp(_ name: TemplateName, in stack: [TemplateValue]) -> TemplateValue? {
        if name.isCurrentItem { return stack.last }
        guard let first = name.parts.first else { return nil }
        var found: TemplateValue?
        if name.currentOnly {
            if case .fields(let fields)? = stack.last { found = fields[first] }
        } else {
            for frame in stack.reversed() {
                if case .fields(let fields) = frame, let value = fields[first] {
                    found = value
                    break
                }
            }
        }
        guard var value = found else { return nil }
        for part in name.parts.dropFirst() {
            guard case .fields(let fields) = value, let next = fields[part] else { return nil }
            value = next
        }
        return value
    }

    /// The same entities as HTMLEscaping (and swift-mustache): `& < > " '`.
    static func appendEscaped(_ text: String, to out: inout [UInt8]) {
        var text = text
        text.withUTF8 { bytes in
            var runStart = 0
            for index in 0..<bytes.count {
                let entity: StaticString
                switch bytes[index] {
                case 0x26: entity = "&amp;"
                case 0x3C: entity = "&lt;"
                case 0x3E: entity = "&gt;"
                case 0x22: entity = "&quot;"
                case 0x27: entity = "&#39;"
                default: continue
                }
                out.append(contentsOf: UnsafeBufferPointer(rebasing: bytes[runStart..<index]))
                out.append(contentsOf: UnsafeBufferPointer(start: entity.utf8Start, count: entity.utf8CodeUnitCount))
                runStart = index + 1
            }
            out.append(contentsOf: UnsafeBufferPointer(rebasing: bytes[runStart...]))
        }
    }
}

/// Reads Mustache text into nodes, with the spec's standalone-line rule: a section, inverted,
/// closing, comment, partial, parent, block or delimiter tag alone on its line (but for spaces and
/// tabs) takes the whole line with it.
struct TemplateParser {
    let bytes: [UInt8]
    let file: String

    init(text: String, file: String) {
        bytes = Array(text.utf8)
        self.file = file
    }

    private enum Kind { case value, raw, section, inverted, close, comment, partial, parent, block, delimiters, pragma }

    private struct Open {
        let kind: Kind
        let name: String
        let line: Int
        var nodes: [TemplateNode] = []
    }

    func parse() throws -> [TemplateNode] {
        var open = "{{".utf8.map { $0 }
        var close = "}}".utf8.map { $0 }
        var stack = [Open(kind: .section, name: "", line: 0)]
        var textStart = 0
        var index = 0

        func line(at offset: Int) -> Int { bytes[..<offset].reduce(1) { $0 + ($1 == 0x0A ? 1 : 0) } }
        func error(_ offset: Int, _ message: String) -> BuildError {
            BuildError(.theme, file: file, line: line(at: offset), message)
        }
        func appendText(_ range: Range<Int>) {
            guard !range.isEmpty else { return }
            stack[stack.count - 1].nodes.append(.text(Array(bytes[range])))
        }

        while let tagStart = find(open, from: index) {
            var cursor = tagStart + open.count
            var kind = Kind.value
            var tagEnd: Int
            var content: ArraySlice<UInt8>
            if cursor < bytes.count, bytes[cursor] == 0x7B, open == Array("{{".utf8) {  // {{{name}}}
                let closing = [0x7D] + close
                guard let end = find(closing, from: cursor + 1) else { throw error(tagStart, "a tag is not closed with }}}") }
                kind = .raw
                content = bytes[(cursor + 1)..<end]
                tagEnd = end + closing.count
            } else {
                guard let end = find(close, from: cursor) else { throw error(tagStart, "a tag is not closed with \(String(decoding: close, as: UTF8.self))") }
                tagEnd = end + close.count
                while cursor < end, Self.isSpace(bytes[cursor]) { cursor += 1 }
                if cursor < end {
                    switch bytes[cursor] {
                    case 0x23: kind = .section
                    case 0x5E: kind = .inverted
                    case 0x2F: kind = .close
                    case 0x21: kind = .comment
                    case 0x3E: kind = .partial
                    case 0x3C: kind = .parent
                    case 0x24: kind = .block
                    case 0x3D: kind = .delimiters
                    case 0x26: kind = .raw
                    case 0x25: kind = .pragma
                    default: break
                    }
                    if kind != .value { cursor += 1 }
                }
                content = bytes[cursor..<end]
            }

            // The standalone rule: only spaces and tabs before the tag on its line and after it.
            var lineStart = tagStart
            while lineStart > 0, bytes[lineStart - 1] != 0x0A { lineStart -= 1 }
            var lineEnd = tagEnd
            while lineEnd < bytes.count, bytes[lineEnd] == 0x20 || bytes[lineEnd] == 0x09 { lineEnd += 1 }
            let endsLine = lineEnd == bytes.count || bytes[lineEnd] == 0x0A || (bytes[lineEnd] == 0x0D && lineEnd + 1 < bytes.count && bytes[lineEnd + 1] == 0x0A)
            let standalone = kind != .value && kind != .raw && endsLine && lineStart >= textStart
                && bytes[lineStart..<tagStart].allSatisfy { $0 == 0x20 || $0 == 0x09 }
            let indentation = standalone ? Array(bytes[lineStart..<tagStart]) : []
            appendText(textStart..<(standalone ? lineStart : tagStart))
            if standalone {
                index = lineEnd == bytes.count ? lineEnd : lineEnd + (bytes[lineEnd] == 0x0D ? 2 : 1)
            } else {
                index = tagEnd
            }
            textStart = index

            let name = String(decoding: Self.trimmed(content), as: UTF8.self)
            switch kind {
            case .comment, .pragma:
                break
            case .delimiters:
                guard name.hasSuffix("=") else { throw error(tagStart, "invalid set-delimiter tag") }
                let parts = name.dropLast().split(whereSeparator: { $0 == " " || $0 == "\t" })
                guard parts.count == 2 else { throw error(tagStart, "invalid set-delimiter tag") }
                open = Array(parts[0].utf8)
                close = Array(parts[1].utf8)
            case .value, .raw:
                try check(name, at: tagStart, error: error)
                stack[stack.count - 1].nodes.append(.value(TemplateName(name), escaped: kind == .value))
            case .partial:
                try check(name, at: tagStart, error: error)
                stack[stack.count - 1].nodes.append(.partial(
                    name, indentation: indentation, indentedKey: indentation.isEmpty ? nil : TemplateNode.indentedKey(name, indentation)))
            case .section, .inverted, .parent, .block:
                try check(name, at: tagStart, error: error)
                stack.append(Open(kind: kind, name: name, line: line(at: tagStart)))
            case .close:
                guard stack.count > 1, let section = stack.last, section.name == name else {
                    throw error(tagStart, "{{/\(name)}} closes a section that is not open")
                }
                stack.removeLast()
                let node: TemplateNode
                switch section.kind {
                case .parent:
                    var blocks: [String: [TemplateNode]] = [:]
                    for case .block(let blockName, let content) in section.nodes { blocks[blockName] = content }
                    node = .parent(section.name, blocks: blocks)
                case .block:
                    node = .block(section.name, section.nodes)
                default:
                    node = .section(TemplateName(section.name), section.nodes, inverted: section.kind == .inverted)
                }
                stack[stack.count - 1].nodes.append(node)
            }
        }
        appendText(textStart..<bytes.count)
        if stack.count > 1, let unclosed = stack.last {
            throw BuildError(.theme, file: file, line: unclosed.line, "{{\(unclosed.name)}} is never closed")
        }
        return stack[0].nodes
    }

    /// Names swift-mustache reads as transforms (`upper(name)`) render nothing here: refused.
    private func check(_ name: String, at offset: Int, error: (Int, String) -> BuildError) throws {
        if name.isEmpty { throw error(offset, "a tag has no name") }
        if name.contains("(") || name.contains(")") {
            throw error(offset, "{{\(name)}}: transforms (swift-mustache's name(...) syntax) are not supported in ishop themes")
        }
    }

    private func find(_ needle: [UInt8], from start: Int) -> Int? {
        guard let first = needle.first, start <= bytes.count - needle.count else { return nil }
        var index = start
        while index <= bytes.count - needle.count {
            if bytes[index] == first, bytes[index..<(index + needle.count)].elementsEqual(needle) { return index }
            index += 1
        }
        return nil
    }

    private static func isSpace(_ byte: UInt8) -> Bool { byte == 0x20 || byte == 0x09 || byte == 0x0A || byte == 0x0D }

    private static func trimmed(_ slice: ArraySlice<UInt8>) -> ArraySlice<UInt8> {
        var slice = slice
        while let first = slice.first, isSpace(first) { slice.removeFirst() }
        while let last = slice.last, isSpace(last) { slice.removeLast() }
        return slice
    }
}
