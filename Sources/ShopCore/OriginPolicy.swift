/// The browser origins allowed to call the runtime: one typed policy shared by the HTTP CORS
/// middleware and (later) the WebSocket handshake, so the two can never disagree.
///
/// Matching is exact on normalised origins. The only pattern is a port wildcard
/// (`http://localhost:*`) for development servers on changing ports. There is no suffix
/// matching and `null` (sandboxed iframes, file: pages) is never allowed.
public struct OriginPolicy: Sendable, Equatable {
    public struct Rule: Sendable, Hashable, CustomStringConvertible {
        public var scheme: String
        public var host: String
        /// nil means any port.
        public var port: Int?

        public init(parsing text: String) throws(OriginError) {
            guard text != "*" else { throw .wildcard }
            guard let origin = Origin(text, allowPortWildcard: true) else { throw .malformed(text) }
            scheme = origin.scheme
            host = origin.host
            port = origin.port
        }

        public var isInsecure: Bool { scheme != "https" }
        public var isWildcard: Bool { port == nil }

        public var description: String {
            "\(scheme)://\(host)" + (port.map { $0 == Origin.defaultPort(scheme) ? "" : ":\($0)" } ?? ":*")
        }
    }

    public enum OriginError: Error, Equatable, CustomStringConvertible {
        case wildcard
        case malformed(String)

        public var description: String {
            switch self {
            case .wildcard: "\"*\" is not allowed: list each origin (credentials are sent, so a wildcard would let any site act as the shopper)"
            case .malformed(let text): "\"\(text)\" is not an origin like https://shop.example.com or http://localhost:5173"
            }
        }
    }

    public let rules: Set<Rule>

    public init(allowing origins: [String]) throws(OriginError) {
        var rules: Set<Rule> = []
        for origin in origins { rules.insert(try Rule(parsing: origin)) }
        self.rules = rules
    }

    /// Is a request's `Origin` header value allowed?
    public func allows(_ headerValue: String) -> Bool {
        guard let origin = Origin(headerValue, allowPortWildcard: false) else { return false }
        return rules.contains { rule in
            rule.scheme == origin.scheme && rule.host == origin.host && (rule.port == nil || rule.port == origin.port)
        }
    }

    /// Why this policy must not run in production, if it must not: port wildcards and plain http.
    public var productionProblems: [String] {
        rules.sorted { $0.description < $1.description }.compactMap { rule in
            if rule.isWildcard { return "\(rule) has a port wildcard" }
            if rule.isInsecure { return "\(rule) is not https" }
            return nil
        }
    }
}

/// A parsed `scheme://host[:port]` with no path, query, user or fragment; lower-cased, default port filled in.
struct Origin {
    var scheme: String
    var host: String
    var port: Int?

    static func defaultPort(_ scheme: String) -> Int { scheme == "https" ? 443 : 80 }

    init?(_ text: String, allowPortWildcard: Bool) {
        guard text.utf8.count <= 300, text != "null" else { return nil }
        let lower = text.lowercased()
        let scheme: String
        if lower.hasPrefix("https://") { scheme = "https" } else if lower.hasPrefix("http://") { scheme = "http" } else { return nil }
        var rest = lower.dropFirst(scheme.count + 3)
        var port: Int? = Origin.defaultPort(scheme)
        if rest.hasPrefix("[") {
            // IPv6 literal: [::1] or [::1]:8080
            guard let close = rest.firstIndex(of: "]") else { return nil }
            host = String(rest[...close])
            rest = rest[rest.index(after: close)...]
        } else {
            let end = rest.firstIndex(of: ":") ?? rest.endIndex
            host = String(rest[..<end])
            rest = rest[end...]
            guard !host.isEmpty, host.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "-" || $0 == ".") })
            else { return nil }
        }
        if rest.hasPrefix(":") {
            let portText = rest.dropFirst()
            if portText == "*" && allowPortWildcard {
                port = nil
            } else {
                guard !portText.isEmpty, portText.count <= 5, portText.allSatisfy(\.isNumber), let value = Int(portText),
                      (1...65535).contains(value) else { return nil }
                port = value
            }
        } else if !rest.isEmpty {
            return nil  // a path, query or anything else: not an origin
        }
        self.scheme = scheme
        self.port = port
    }
}
