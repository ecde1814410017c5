import Foundation

/// Image warnings as a build prints them: one line per host and reason, with a count and one
/// example, not one per image. A catalog whose CDN host does not resolve has the same complaint
/// for every picture (21 lines for Shopify's home-and-garden sample), and a line per image
/// buries the one that matters; the full list goes to the log at debug level.
public struct ImageWarningGroup: Sendable, Equatable, CustomStringConvertible {
    /// The sources' host, or `local files` for the site's own images.
    public var host: String
    public var reason: String
    public var count: Int
    /// The first of the group's sources, in source order.
    public var example: String

    public var description: String {
        count == 1 ? "\(example): \(reason)" : "\(count) images from \(host): \(reason) (for example \(example))"
    }

    /// The groups of `warnings`, largest first, then by host and reason.
    public static func grouping(_ warnings: [ImageWarning]) -> [ImageWarningGroup] {
        var groups: [String: ImageWarningGroup] = [:]
        var order: [String] = []
        for warning in warnings.sorted(by: { $0.source < $1.source }) {
            let host = warning.host
            let key = host + "\u{0}" + warning.message
            if groups[key] == nil {
                groups[key] = ImageWarningGroup(host: host, reason: warning.message, count: 0, example: warning.source)
                order.append(key)
            }
            groups[key]!.count += 1
        }
        return order.compactMap { groups[$0] }.sorted {
            ($1.count, $0.host, $0.reason) < ($0.count, $1.host, $1.reason)
        }
    }
}

extension ImageWarning {
    /// The host of a remote source (lower-cased), or `local files`.
    public var host: String {
        guard source.hasPrefix("http://") || source.hasPrefix("https://"), let host = URLComponents(string: source)?.host, !host.isEmpty
        else { return "local files" }
        return host.lowercased()
    }
}
