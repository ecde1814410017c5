import Crypto
import Foundation
import Hummingbird
import Logging
import ShopCore
import ShopStore

/// Accounts and sessions: registration, sign-in, refresh-token rotation, sign-out.
///
/// Refresh tokens are 256-bit. A sign-in starts a family with a random one; every refresh spends
/// the token and issues its successor, which is HMAC(secret, spent token): two tabs refreshing the
/// same token at once therefore compute the same successor, and the store's one conditional
/// update lets exactly one of them rotate while the other replays (within the grace window).
final class AuthService: Sendable {
    let store: any CommerceStore
    let hasher: PasswordHasher
    let tokens: AccessTokens
    let settings: RuntimeSettings
    private let successorKey: SymmetricKey

    static let refreshTokenBytes = 32

    init(store: any CommerceStore, settings: RuntimeSettings, secret: [UInt8]) {
        self.store = store
        self.settings = settings
        hasher = PasswordHasher(cost: settings.bcryptCost)
        tokens = AccessTokens(secret: secret, lifetimeSeconds: Int64(settings.accessTokenMinutes * 60))
        // A key of its own, derived from the secret, so a refresh successor is never a valid signature.
        successorKey = SymmetricKey(data: Secrets.hmac(key: SymmetricKey(data: secret), "ishop refresh-token successors v1"))
    }

    struct TokenPair: ResponseEncodable, Equatable {
        let access_token: String
        let refresh_token: String
        let token_type: String
        let expires_in: Int64
    }

    enum Failure: Error {
        case invalidCredentials
        case invalidRefreshToken
    }

    static func now() -> Int64 { Int64(Date().timeIntervalSince1970) }

    // MARK: Rules for what may be stored

    /// A plausible email address, lower-cased; the field named in a 422 otherwise.
    static func normalisedEmail(_ text: String) throws -> String {
        let email = text.lowercased()
        let parts = email.split(separator: "@", omittingEmptySubsequences: false)
        guard email.utf8.count <= 254, parts.count == 2, (1...64).contains(parts[0].utf8.count), parts[1].contains("."),
              !parts[1].hasPrefix("."), !parts[1].hasSuffix("."),
              !email.unicodeScalars.contains(where: { $0.properties.isWhitespace || $0.value < 0x20 || $0.value == 0x7F })
        else {
            throw APIError.invalidField("email", "email must be an address such as name@example.com.")
        }
        return email
    }

    /// bcrypt reads at most 72 bytes and stops at a NUL byte: refuse both rather than silently
    /// ignore part of a password.
    static func checkNewPassword(_ password: String) throws {
        if password.count < 10 { throw APIError.invalidField("password", "password must be at least 10 characters long.") }
        if password.utf8.count > 72 { throw APIError.invalidField("password", "password must be at most 72 bytes long (UTF-8).") }
        if password.utf8.contains(0) { throw APIError.invalidField("password", "password must not contain a NUL character.") }
    }

    // MARK: Operations

    func register(email: String, password: String) async throws -> UserAccount {
        try Self.checkNewPassword(password)
        let hash = try await hasher.hash(password)
        return try await store.createUser(email: email, passwordHash: hash, role: .customer)
    }

    /// The same failure, after about the same work, whether the email is unknown or the password wrong.
    func login(email: String, password: String) async throws -> (UserAccount, TokenPair) {
        let usable = password.utf8.count <= 72 && !password.utf8.contains(0)
        guard let account = try await store.user(email: email) else {
            try await hasher.verifyDecoy(password)
            throw Failure.invalidCredentials
        }
        guard try await hasher.verify(password, hash: account.passwordHash), usable else { throw Failure.invalidCredentials }
        let now = Self.now()
        let refresh = Secrets.randomToken(bytes: Self.refreshTokenBytes)
        try await store.issueRefreshToken(NewRefreshToken(
            hash: Secrets.sha256Hex(refresh), userID: account.id, familyID: UUID().uuidString.lowercased(), issuedAt: now,
            expiresAt: now + refreshLifetime))
        return (account, try await pair(userID: account.id, role: account.role, refresh: refresh, issuedAt: now))
    }

    private var refreshLifetime: Int64 { Int64(settings.refreshTokenDays) * 86_400 }

    func refresh(_ presented: String) async throws -> TokenPair {
        guard Secrets.isWellFormedToken(presented, bytes: Self.refreshTokenBytes) else { throw Failure.invalidRefreshToken }
        let now = Self.now()
        let successor = Secrets.base64URL(Secrets.hmac(key: successorKey, presented))
        let next = NewRefreshToken(hash: Secrets.sha256Hex(successor), userID: "", familyID: "", issuedAt: now,
                                   expiresAt: now + refreshLifetime)
        let outcome = try await store.rotateRefreshToken(presentedHash: Secrets.sha256Hex(presented), successor: next, now: now,
                                                         graceSeconds: Int64(settings.refreshGraceSeconds))
        let userID: String, issuedAt: Int64
        switch outcome {
        case .rotated(let user, _):
            (userID, issuedAt) = (user, now)
        case .replayed(let user, _, let rotatedAt):
            (userID, issuedAt) = (user, rotatedAt)
        case .reused(let family):
            Logger(label: "ishop.auth").warning("a spent refresh token came back: its family is revoked", metadata: ["family": "\(family)"])
            throw Failure.invalidRefreshToken
        case .invalid:
            throw Failure.invalidRefreshToken
        }
        // The role is read now, so a demoted admin loses the role at the next refresh.
        guard let account = try await store.user(id: userID) else { throw Failure.invalidRefreshToken }
        return try await pair(userID: userID, role: account.role, refresh: successor, issuedAt: issuedAt)
    }

    func logout(_ presented: String) async throws {
        guard Secrets.isWellFormedToken(presented, bytes: Self.refreshTokenBytes) else { return }
        _ = try await store.revokeRefreshFamily(tokenHash: Secrets.sha256Hex(presented), now: Self.now())
    }

    /// The pair for a refresh token: the access token's id and time follow from it, so the same
    /// refresh token issued at the same moment always comes with the same access token.
    private func pair(userID: String, role: Role, refresh: String, issuedAt: Int64) async throws -> TokenPair {
        let tokenID = String(Secrets.sha256Hex("access:" + refresh).prefix(32))
        let access = try await tokens.sign(userID: userID, role: role, issuedAt: issuedAt, tokenID: tokenID)
        return TokenPair(access_token: access, refresh_token: refresh, token_type: "Bearer", expires_in: tokens.lifetime)
    }
}

/// Accounts made by the shop owner on the command line (`ishop user create`), under the same
/// rules as registration over the API.
public enum Accounts {
    public struct Refused: Error, CustomStringConvertible {
        public let description: String
    }

    public static func create(store: any CommerceStore, email: String, password: String, role: Role, bcryptCost: Int) async throws
        -> UserAccount
    {
        let normalised: String
        do {
            normalised = try AuthService.normalisedEmail(email)
            try AuthService.checkNewPassword(password)
        } catch let error as APIError {
            throw Refused(description: error.message)
        }
        let hash = try await PasswordHasher(cost: bcryptCost).hash(password)
        return try await store.createUser(email: normalised, passwordHash: hash, role: role)
    }
}
