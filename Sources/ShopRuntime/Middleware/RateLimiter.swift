import Foundation
import HTTPTypes
import Hummingbird
import NIOCore
import ShopCore
import Synchronization

/// Token buckets by key (a client address, an account): `burst` requests at once, refilled
/// continuously at `perMinute`. Memory is bounded: past `maxKeys`, buckets that are full again
/// (their clients went quiet) are forgotten, and if that is not enough the oldest go.
final class RateLimiter: Sendable {
    private struct Bucket {
        var tokens: Double
        var updated: UInt64
    }

    let limit: RuntimeSettings.RateLimit
    private let maxKeys: Int
    private let buckets = Mutex<[String: Bucket]>([:])

    init(_ limit: RuntimeSettings.RateLimit, maxKeys: Int = 100_000) {
        self.limit = limit
        self.maxKeys = maxKeys
    }

    /// How many keys are remembered now.
    var keyCount: Int { buckets.withLock { $0.count } }

    private var refillPerNanosecond: Double { Double(limit.perMinute) / 60e9 }

    /// nil when the request may go ahead (a token was taken); otherwise the whole seconds to wait.
    func take(_ key: String, now: UInt64 = DispatchTime.now().uptimeNanoseconds) -> Int? {
        let capacity = Double(limit.burst)
        let rate = refillPerNanosecond
        return buckets.withLock { buckets in
            var bucket = buckets[key] ?? Bucket(tokens: capacity, updated: now)
            let elapsed = now >= bucket.updated ? Double(now - bucket.updated) : 0
            bucket.tokens = min(capacity, bucket.tokens + elapsed * rate)
            bucket.updated = now
            if bucket.tokens >= 1 {
                bucket.tokens -= 1
                buckets[key] = bucket
                if buckets.count > maxKeys { Self.evict(&buckets, capacity: capacity, rate: rate, now: now, keep: maxKeys) }
                return nil
            }
            buckets[key] = bucket
            return max(1, Int(((1 - bucket.tokens) / rate / 1e9).rounded(.up)))
        }
    }

    private static func evict(_ buckets: inout [String: Bucket], capacity: Double, rate: Double, now: UInt64, keep: Int) {
        buckets = buckets.filter { _, bucket in bucket.tokens + Double(now &- bucket.updated) * rate < capacity }
        if buckets.count > keep {
            let oldest = buckets.sorted { $0.value.updated < $1.value.updated }.prefix(buckets.count - keep).map(\.key)
            for key in oldest { buckets.removeValue(forKey: key) }
        }
    }
}

/// The client's address: the TCP peer, unless the peer is a configured reverse proxy, in which
/// case the right-most X-Forwarded-For entry that is not itself a trusted proxy. A client can put
/// anything in X-Forwarded-For, so it is believed only from the proxies site.yml names.
struct ClientAddress: Sendable {
    let trustedProxies: Set<String>

    init(trustedProxies: [String]) {
        self.trustedProxies = Set(trustedProxies.map { Self.normalise($0) })
    }

    func of(_ request: Request, peer: SocketAddress?) -> String {
        let peerIP = peer?.ipAddress.map(Self.normalise) ?? "unknown"
        guard trustedProxies.contains(peerIP) else { return peerIP }
        let forwarded = request.headers[values: .xForwardedFor]
            .flatMap { $0.split(separator: ",") }
            .map { Self.normalise($0.trimmingCharacters(in: .whitespaces)) }
        for address in forwarded.reversed() where !trustedProxies.contains(address) {
            return address.isEmpty || address.utf8.count > 64 ? peerIP : address
        }
        return peerIP
    }

    /// IPv4-mapped IPv6 (`::ffff:127.0.0.1`) is the IPv4 address.
    static func normalise(_ address: String) -> String {
        let lower = address.lowercased()
        return lower.hasPrefix("::ffff:") && lower.contains(".") ? String(lower.dropFirst(7)) : lower
    }
}

extension HTTPField.Name {
    static let xForwardedFor = Self("X-Forwarded-For")!
    static let xRequestID = Self("X-Request-Id")!
    static let xCartToken = Self("X-Cart-Token")!
    static let xRequestedWith = Self("X-Requested-With")!
    static let idempotencyKey = Self("Idempotency-Key")!
    static let idempotentReplayed = Self("Idempotent-Replayed")!
    static let secFetchSite = Self("Sec-Fetch-Site")!
}
