import Crypto
import Foundation
import JWTKit
import ShopStore
import Synchronization

/// The claims of an access token. Only HS256 is ever accepted (the header is checked before
/// jwt-kit sees the token), and issuer, audience, expiry and issue time are all verified.
struct AccessClaims: JWTPayload, Equatable {
    var iss: IssuerClaim
    var aud: AudienceClaim
    var sub: SubjectClaim
    var exp: ExpirationClaim
    var iat: IssuedAtClaim
    var nbf: NotBeforeClaim
    var jti: IDClaim
    var role: String

    static let issuer = "ishop"
    static let audience = "ishop-api"

    func verify(using algorithm: some JWTAlgorithm) async throws {
        try exp.verifyNotExpired()
        try nbf.verifyNotBefore()
        guard iss.value == Self.issuer else { throw JWTError.claimVerificationFailure(failedClaim: iss, reason: "wrong issuer") }
        try aud.verifyIntendedAudience(includes: Self.audience)
        guard Role(rawValue: role) != nil else { throw JWTError.claimVerificationFailure(failedClaim: sub, reason: "unknown role") }
    }
}

/// Who a valid access token says is calling.
public struct Identity: Sendable, Equatable {
    public var userID: String
    public var role: Role
}

/// Signs and verifies access tokens with the shop's secret.
actor AccessTokens {
    /// Sorted keys: the same claims always make the same bytes (and so the same token).
    private let keys = JWTKeyCollection()
    private static var serializer: DefaultJWTSerializer {
        let encoder = JSONEncoder()
        encoder.dateEncodingStrategy = .secondsSince1970
        encoder.outputFormatting = .sortedKeys
        return DefaultJWTSerializer(jsonEncoder: encoder)
    }
    private let secret: [UInt8]
    private var keyAdded = false
    let lifetime: Int64

    init(secret: [UInt8], lifetimeSeconds: Int64) {
        self.secret = secret
        lifetime = lifetimeSeconds
    }

    private func ready() async -> JWTKeyCollection {
        if !keyAdded {
            await keys.add(hmac: HMACKey(key: SymmetricKey(data: secret)), digestAlgorithm: .sha256, serializer: Self.serializer)
            keyAdded = true
        }
        return keys
    }

    /// A token issued at `issuedAt` with id `tokenID`: the same inputs give the same token,
    /// which is what lets a refresh replay within the grace window return the very same pair.
    func sign(userID: String, role: Role, issuedAt: Int64, tokenID: String) async throws -> String {
        let issued = Date(timeIntervalSince1970: TimeInterval(issuedAt))
        let claims = AccessClaims(
            iss: .init(value: AccessClaims.issuer), aud: .init(value: [AccessClaims.audience]), sub: .init(value: userID),
            exp: .init(value: issued.addingTimeInterval(TimeInterval(lifetime))), iat: .init(value: issued),
            nbf: .init(value: issued.addingTimeInterval(-30)), jti: .init(value: tokenID), role: role.rawValue)
        return try await ready().sign(claims)
    }

    /// A token's identity when it is valid now. A client sends the same token with every call
    /// for its whole lifetime, so a token that passed is kept with its validity window and
    /// answered without verifying again: jwt-kit's verification (an actor hop, HMAC, base64 and
    /// Foundation's JSONDecoder for the claims) was a tenth of a cart call. The key is the whole
    /// token text, so only the very bytes that were verified are ever answered from memory, and
    /// the window is checked on every call, so an expired token stays refused.
    nonisolated func verify(_ token: String) async -> Identity? {
        guard token.utf8.count <= 4096 else { return nil }
        let now = Date()
        if let kept = verified.withLock({ $0[token] }) {
            return kept.isValid(at: now) ? kept.identity : nil
        }
        guard let passed = await verifyWithKeys(token), passed.isValid(at: now) else { return nil }
        verified.withLock { kept in
            // Bounded: at most one entry per token that verified. Emptied rather than evicted one
            // by one: signing in again costs a client one verification, nothing more.
            if kept.count >= Self.maxVerified { kept.removeAll(keepingCapacity: true) }
            kept[token] = passed
        }
        return passed.identity
    }

    private func verifyWithKeys(_ token: String) async -> Verified? {
        guard token.utf8.count <= 4096, Self.headerIsHS256(token) else { return nil }
        guard let claims = try? await ready().verify(token, as: AccessClaims.self), let role = Role(rawValue: claims.role) else {
            return nil
        }
        return Verified(identity: Identity(userID: claims.sub.value, role: role), notBefore: claims.nbf.value, expires: claims.exp.value)
    }

    /// A token that passed verification, and when it is valid (as jwt-kit checks nbf and exp).
    struct Verified {
        let identity: Identity
        let notBefore: Date
        let expires: Date

        func isValid(at now: Date) -> Bool { notBefore < now && now < expires }
    }

    static let maxVerified = 10_000
    private nonisolated let verified = Mutex<[String: Verified]>([:])

    /// `alg` must be exactly HS256: never `none`, never another algorithm with our secret as its key.
    static func headerIsHS256(_ token: String) -> Bool {
        guard let first = token.split(separator: ".", omittingEmptySubsequences: false).first, first.utf8.count <= 512 else { return false }
        // Every token we issue has the same header: once one has passed the check, the same text
        // passes without decoding it again (base64 and JSON per request were 5% of a cart call).
        if acceptedHeaders.withLock({ $0.contains(first) }) { return true }
        var base64 = first.replacingOccurrences(of: "-", with: "+").replacingOccurrences(of: "_", with: "/")
        while base64.utf8.count % 4 != 0 { base64 += "=" }
        guard let data = Data(base64Encoded: base64),
              let header = try? JSONSerialization.jsonObject(with: data) as? [String: Any],
              header["alg"] as? String == "HS256", header["crit"] == nil
        else { return false }
        // Bounded: a client cannot grow it by sending headers of its own making.
        acceptedHeaders.withLock { if $0.count < 8 { $0.insert(first) } }
        return true
    }

    /// Header texts that passed `headerIsHS256`.
    private static let acceptedHeaders = Mutex<Set<Substring>>([])
}
