import Foundation
import HTTPTypes
import Hummingbird
import Logging
import ShopCore
import ShopStore

/// POST /api/auth/register, login, refresh, logout (API.md).
struct AuthController {
    typealias Context = ShopRequestContext
    let auth: AuthService
    /// Where a guest cart is merged into the user's at sign-in, within the cart limits.
    let store: any CommerceStore
    let cartLimits: CartLimits
    let policy: OriginPolicy
    let clientAddress: ClientAddress
    let perIP: RateLimiter
    let perAccount: RateLimiter
    /// Outside development the refresh cookie is `Secure` (HTTPS only).
    let secureCookie: Bool

    static let cookieName = "ishop_refresh"
    static let cookiePath = "/api/auth"

    struct Credentials: Decodable {
        let email: String
        let password: String
    }

    struct RefreshInput: Decodable {
        let refresh_token: String?
    }

    struct Registered: ResponseEncodable {
        let id: String
        let email: String
    }

    func addRoutes(to router: Router<Context>) {
        router.post("/api/auth/register", use: register)
        router.post("/api/auth/login", use: login)
        router.post("/api/auth/refresh", use: refresh)
        router.post("/api/auth/logout", use: logout)
    }

    /// A token from the client address's bucket, or 429 with Retry-After.
    private func limitAddress(_ request: Request, context: Context) throws {
        let address = clientAddress.of(request, peer: context.peerAddress)
        if let wait = perIP.take("ip:" + address) {
            context.logger.notice("rate limited", metadata: ["limit": "auth per address", "address": "\(address)"])
            throw APIError(.tooManyRequests, "rate_limited", "Too many attempts from this address; try again in \(wait) s.", retryAfter: wait)
        }
    }

    /// A token from the account's bucket (whatever address the attempt comes from), or 429.
    private func limitAccount(_ account: String, context: Context) throws {
        if let wait = perAccount.take("account:" + account) {
            context.logger.notice("rate limited", metadata: ["limit": "auth per account"])
            throw APIError(.tooManyRequests, "rate_limited", "Too many attempts for this account; try again in \(wait) s.", retryAfter: wait)
        }
    }

    @Sendable func register(_ request: Request, context: Context) async throws -> Response {
        try limitAddress(request, context: context)
        guard let input = try await JSONInput.decode(Credentials.self, from: request, context: context) else { throw APIError.unauthorized }
        let email = try AuthService.normalisedEmail(input.email)
        do {
            let account = try await hashing { try await auth.register(email: email, password: input.password) }
            context.logger.info("account registered", metadata: ["user": "\(account.id)"])
            return try Registered(id: account.id, email: account.email).response(from: request, context: context).with(status: .created)
        } catch CommerceError.emailTaken {
            throw APIError(.conflict, "email_taken", "An account with this email already exists.", field: "email")
        }
    }

    @Sendable func login(_ request: Request, context: Context) async throws -> Response {
        try limitAddress(request, context: context)
        guard let input = try await JSONInput.decode(Credentials.self, from: request, context: context) else { throw APIError.unauthorized }
        guard input.email.utf8.count <= 254, input.password.utf8.count <= 1024 else {
            throw APIError(.unauthorized, "invalid_credentials", "The email or the password is wrong.")
        }
        try limitAccount(input.email.lowercased(), context: context)
        let account: UserAccount, pair: AuthService.TokenPair
        do {
            (account, pair) = try await hashing { try await auth.login(email: input.email, password: input.password) }
        } catch AuthService.Failure.invalidCredentials {
            throw APIError(.unauthorized, "invalid_credentials", "The email or the password is wrong.")
        }
        // API.md: signing in merges the guest cart into the user's cart.
        if let guest = request.headers[.xCartToken], Secrets.isWellFormedToken(guest, bytes: CartController.tokenBytes) {
            try await store.mergeGuestCart(tokenHash: Secrets.sha256Hex(guest), intoUser: account.id, limits: cartLimits,
                                           now: AuthService.now())
        }
        context.logger.info("signed in", metadata: ["user": "\(account.id)"])
        return try respond(with: pair, request: request, context: context)
    }

    @Sendable func refresh(_ request: Request, context: Context) async throws -> Response {
        let presented = try await presentedToken(request, context: context)
        do {
            return try respond(with: try await auth.refresh(presented), request: request, context: context)
        } catch AuthService.Failure.invalidRefreshToken {
            var response = try APIError(.unauthorized, "invalid_refresh_token", "The refresh token is invalid, expired or revoked; sign in again.")
                .response(from: request, context: context)
            response.headers.append(HTTPField(name: .setCookie, value: cookie(value: "", maxAge: 0)))
            return response
        }
    }

    @Sendable func logout(_ request: Request, context: Context) async throws -> Response {
        let presented = try await presentedToken(request, context: context)
        try await auth.logout(presented)
        var response = Response(status: .noContent)
        response.headers.append(HTTPField(name: .setCookie, value: cookie(value: "", maxAge: 0)))
        return response
    }

    /// The refresh token from the JSON body (non-browser clients), else from the cookie; a cookie
    /// is ambient (the browser sends it by itself), so that path must pass the CSRF check.
    private func presentedToken(_ request: Request, context: Context) async throws -> String {
        if let input = try await JSONInput.decode(RefreshInput.self, from: request, context: context, allowEmpty: true),
           let token = input.refresh_token
        {
            return token
        }
        guard let token = Self.cookie(named: Self.cookieName, in: request.headers[values: .cookie]) else {
            throw APIError(.unauthorized, "invalid_refresh_token", "Send the refresh token in the body or the cookie.")
        }
        try checkCSRF(request)
        return token
    }

    /// API.md: a cookie-authenticated request carries `X-Requested-With: ishop` (which a plain
    /// cross-site form cannot send) and comes from our own site or an allowed origin.
    func checkCSRF(_ request: Request) throws {
        let refuse = APIError(.forbidden, "csrf_check_failed", "A cookie-authenticated request needs X-Requested-With: ishop from an allowed origin.")
        guard request.headers[.xRequestedWith] == "ishop" else { throw refuse }
        if let origin = request.headers[.origin] {
            let host = request.head.authority ?? ""
            let sameOrigin = !host.isEmpty && (origin == "http://\(host)" || origin == "https://\(host)")
            guard sameOrigin || policy.allows(origin) else { throw refuse }
        } else if let site = request.headers[.secFetchSite] {
            guard ["same-origin", "same-site", "none"].contains(site) else { throw refuse }
        }
    }

    private func respond(with pair: AuthService.TokenPair, request: Request, context: Context) throws -> Response {
        var response = try pair.response(from: request, context: context)
        response.headers.append(HTTPField(name: .setCookie,
                                          value: cookie(value: pair.refresh_token, maxAge: auth.settings.refreshTokenDays * 86_400)))
        return response
    }

    func cookie(value: String, maxAge: Int) -> String {
        "\(Self.cookieName)=\(value); Path=\(Self.cookiePath); Max-Age=\(maxAge); HttpOnly; SameSite=Lax" + (secureCookie ? "; Secure" : "")
    }

    static func cookie(named name: String, in headers: [String]) -> String? {
        for header in headers {
            for part in header.split(separator: ";") {
                let pair = part.split(separator: "=", maxSplits: 1)
                if pair.count == 2, pair[0].trimmingCharacters(in: .whitespaces) == name {
                    return pair[1].trimmingCharacters(in: .whitespaces)
                }
            }
        }
        return nil
    }

    /// A flood of hashes is turned away with 503 rather than queued without end.
    private func hashing<T>(_ body: () async throws -> T) async throws -> T {
        do {
            return try await body()
        } catch is PasswordHasher.Busy {
            throw APIError(.serviceUnavailable, "busy", "Too many sign-ins at once; try again in a moment.", retryAfter: 2)
        }
    }
}

extension Response {
    func with(status: HTTPResponse.Status) -> Response {
        var response = self
        response.status = status
        return response
    }
}
