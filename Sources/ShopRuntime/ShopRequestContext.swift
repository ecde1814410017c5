import Foundation
import Hummingbird
import NIOCore
import ShopStore

/// The request context of every ishop route. Its own type (rather than Hummingbird's basic
/// one) so that limits and encoders are ours, and the request id and peer address ride along.
public struct ShopRequestContext: RequestContext {
    public var coreContext: CoreRequestContextStorage
    /// The TCP peer: the client itself, or a reverse proxy in front of us.
    public let peerAddress: SocketAddress?
    /// Set by the observation middleware before anything else runs; echoed as X-Request-Id.
    public var requestID: String = ""
    /// The caller, set by the Authenticator on the routes that act for one; nil: a guest.
    public var identity: Identity?

    public init(source: ApplicationRequestContextSource) {
        coreContext = .init(source: source)
        peerAddress = source.channel.remoteAddress
    }

    /// The caller, or 401 for a guest.
    func requireIdentity() throws -> Identity {
        guard let identity else { throw APIError.unauthorized }
        return identity
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
