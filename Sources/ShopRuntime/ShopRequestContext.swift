import Foundation
import Hummingbird

/// The request context of every ishop route. Its own type (rather than Hummingbird's basic
/// one) so that limits and encoders are ours, and later the authenticated user rides along.
public struct ShopRequestContext: RequestContext {
    public var coreContext: CoreRequestContextStorage

    public init(source: Source) {
        coreContext = .init(source: source)
    }

    /// API.md: request bodies over 64 KiB get 413.
    public var maxUploadSize: Int { 64 * 1024 }

    /// Sorted keys: the same resource always serialises to the same bytes (stable ETags, diffs).
    public var responseEncoder: JSONEncoder { Self.encoder }

    private static let encoder: JSONEncoder = {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return encoder
    }()
}
