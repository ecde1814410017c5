import Foundation
import Yams

/// A mistake in a YAML file (site.yml or a page's front matter), told the way a person fixes it:
/// the file, the line, the key path and what was wrong.
public struct ConfigError: Error, Equatable, CustomStringConvertible {
    public var file: String
    public var line: Int?
    public var keyPath: String
    public var message: String

    public init(file: String, line: Int?, keyPath: String, message: String) {
        self.file = file
        self.line = line
        self.keyPath = keyPath
        self.message = message
    }

    public var description: String {
        let place = line.map { "\(file):\($0)" } ?? file
        return keyPath.isEmpty ? "\(place): \(message)" : "\(place): \(keyPath): \(message)"
    }
}

/// Reads a YAML mapping key by key with types checked, remembering which keys were read so that
/// every key nobody asked for is reported as unknown (a typo must never be silently ignored).
///
/// Yams' Codable decoder knows neither line numbers nor unknown keys, hence this small reader
/// over Yams' node tree, whose nodes carry their position (`Mark`).
public final class YAMLMapping {
    public let file: String
    public let path: String
    public let line: Int?
    private var entries: [(key: String, value: Node, line: Int?)] = []
    private var read: Set<String> = []

    /// Parses `text` and returns its top-level mapping; an empty document is an empty mapping.
    public static func parse(_ text: String, file: String, lineOffset: Int = 0) throws -> YAMLMapping {
        let node: Node?
        do {
            node = try Yams.compose(yaml: text)
        } catch let error as YamlError {
            if case .duplicatedKeysInMapping(let duplicates, let context) = error {
                // Yams refuses duplicates before we see the tree; recover the key's path from the text.
                let key = duplicates.first ?? ""
                let parents = Self.parentKeys(before: context.mark.line, column: context.mark.column, in: text)
                throw ConfigError(file: file, line: context.mark.line + lineOffset, keyPath: (parents + [key]).joined(separator: "."),
                                  message: "is given twice in the same mapping")
            }
            throw ConfigError(file: file, line: Self.line(of: error).map { $0 + lineOffset }, keyPath: "",
                              message: "is not valid YAML: \(Self.problem(of: error))")
        }
        guard let node else { return YAMLMapping(file: file, path: "", line: nil, lineOffset: lineOffset) }
        return try YAMLMapping(node: node, file: file, path: "", lineOffset: lineOffset)
    }

    private let lineOffset: Int

    private init(file: String, path: String, line: Int?, lineOffset: Int) {
        self.file = file
        self.path = path
        self.line = line
        self.lineOffset = lineOffset
    }

    init(node: Node, file: String, path: String, lineOffset: Int) throws {
        self.file = file
        self.path = path
        self.lineOffset = lineOffset
        self.line = node.mark.map { $0.line + lineOffset }
        guard let mapping = node.mapping else {
            throw ConfigError(file: file, line: line, keyPath: path,
                              message: "expected a mapping of keys to values, found \(Self.kind(of: node))")
        }
        var seen: [String: Int] = [:]
        for (key, value) in mapping {
            guard let name = key.scalar?.string else {
                throw ConfigError(file: file, line: key.mark.map { $0.line + lineOffset }, keyPath: path,
                                  message: "keys must be plain text")
            }
            let keyLine = key.mark.map { $0.line + lineOffset }
            if let earlier = seen[name] {
                throw ConfigError(file: file, line: keyLine, keyPath: join(name),
                                  message: "is given twice (first on line \(earlier))")
            }
            seen[name] = keyLine ?? 0
            entries.append((name, value, keyLine))
        }
    }

    public var keys: [String] { entries.map(\.key) }

    private func join(_ key: String) -> String { path.isEmpty ? key : "\(path).\(key)" }

    private func node(_ key: String) -> Node? {
        read.insert(key)
        guard let node = entries.first(where: { $0.key == key })?.value else { return nil }
        if case .scalar(let scalar) = node, scalar.tag.description == Tag.Name.null.rawValue
            || (scalar.style == .plain && ["", "~", "null", "Null", "NULL"].contains(scalar.string))
        {
            return nil  // "key:" with nothing after it means "not set"
        }
        return node
    }

    private func fail(_ key: String, _ node: Node?, _ message: String) -> ConfigError {
        ConfigError(file: file, line: node?.mark.map { $0.line + lineOffset } ?? line, keyPath: join(key), message: message)
    }

    public func string(_ key: String) throws -> String? {
        guard let node = node(key) else { return nil }
        guard let scalar = node.scalar else { throw fail(key, node, "expected text, found \(Self.kind(of: node))") }
        return scalar.string
    }

    public func int(_ key: String) throws -> Int? {
        guard let node = node(key) else { return nil }
        guard node.scalar != nil, let value = node.int else {
            throw fail(key, node, "expected a whole number, found \(Self.describe(node))")
        }
        return value
    }

    public func bool(_ key: String) throws -> Bool? {
        guard let node = node(key) else { return nil }
        guard node.scalar != nil, let value = node.bool else {
            throw fail(key, node, "expected true or false, found \(Self.describe(node))")
        }
        return value
    }

    public func date(_ key: String) throws -> Date? {
        guard let node = node(key) else { return nil }
        guard node.scalar != nil, let value = node.timestamp else {
            throw fail(key, node, "expected a date like 2026-11-25, found \(Self.describe(node))")
        }
        return value
    }

    public func strings(_ key: String) throws -> [String]? {
        guard let node = node(key) else { return nil }
        guard let sequence = node.sequence else {
            throw fail(key, node, "expected a list, found \(Self.kind(of: node))")
        }
        return try sequence.enumerated().map { index, item in
            guard let scalar = item.scalar else {
                throw fail("\(key)[\(index)]", item, "expected text, found \(Self.kind(of: item))")
            }
            return scalar.string
        }
    }

    public func ints(_ key: String) throws -> [Int]? {
        guard let node = node(key) else { return nil }
        guard let sequence = node.sequence else {
            throw fail(key, node, "expected a list of whole numbers, found \(Self.kind(of: node))")
        }
        return try sequence.enumerated().map { index, item in
            guard item.scalar != nil, let value = item.int else {
                throw fail("\(key)[\(index)]", item, "expected a whole number, found \(Self.describe(item))")
            }
            return value
        }
    }

    public func mapping(_ key: String) throws -> YAMLMapping? {
        guard let node = node(key) else { return nil }
        return try YAMLMapping(node: node, file: file, path: join(key), lineOffset: lineOffset)
    }

    /// An error about `key`'s value that only the caller can judge (a port out of range, say).
    public func invalid(_ key: String, _ message: String) -> ConfigError {
        fail(key, entries.first(where: { $0.key == key })?.value, message)
    }

    /// Call after reading every known key: any key left unread is a mistake.
    public func rejectUnknownKeys() throws {
        guard let unknown = entries.first(where: { !read.contains($0.key) }) else { return }
        let known = read.sorted().joined(separator: ", ")
        throw ConfigError(file: file, line: unknown.line, keyPath: join(unknown.key),
                          message: "is not a known key (known here: \(known))")
    }

    /// The keys of the block mappings that enclose position (line, column), outermost first:
    /// each less-indented `key:` line above it. Good for block-style YAML, which site.yml is.
    static func parentKeys(before line: Int, column: Int, in text: String) -> [String] {
        let lines = text.split(separator: "\n", omittingEmptySubsequences: false)
        var indent = column - 1
        var keys: [String] = []
        var index = min(line - 1, lines.count) - 1
        while index >= 0 && indent > 0 {
            let current = lines[index]
            let leading = current.prefix(while: { $0 == " " }).count
            let rest = current.dropFirst(leading)
            if leading < indent, !rest.isEmpty, !rest.hasPrefix("#"), !rest.hasPrefix("-"), let colon = rest.firstIndex(of: ":") {
                keys.insert(rest[..<colon].trimmingCharacters(in: .whitespaces), at: 0)
                indent = leading
            }
            index -= 1
        }
        return keys
    }

    static func kind(of node: Node) -> String {
        switch node {
        case .scalar: "a single value"
        case .mapping: "a mapping"
        case .sequence: "a list"
        case .alias: "an alias"
        }
    }

    static func describe(_ node: Node) -> String {
        if let scalar = node.scalar { return "\"\(scalar.string)\"" }
        return kind(of: node)
    }

    static func line(of error: YamlError) -> Int? {
        switch error {
        case .scanner(_, _, let mark, _), .parser(_, _, let mark, _), .composer(_, _, let mark, _):
            return mark.line
        case .duplicatedKeysInMapping(_, let context):
            return context.mark.line
        default:
            return nil
        }
    }

    static func problem(of error: YamlError) -> String {
        switch error {
        case .scanner(_, let problem, _, _), .parser(_, let problem, _, _), .composer(_, let problem, _, _):
            return problem
        case .duplicatedKeysInMapping(let duplicates, _):
            return "key \(duplicates.joined(separator: ", ")) is given twice"
        default:
            return "\(error)"
        }
    }
}
