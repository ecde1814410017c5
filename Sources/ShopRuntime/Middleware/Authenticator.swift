import Hummingbird

/// Puts the caller's identity on the request context (`context.identity`) from
/// `Authorization: Bearer`, before the route runs: the routes that need one ask the context
/// (`requireIdentity`), none reads the header itself. No header: no identity (a guest). A header
/// that is present but not a valid token is 401 here, and never treated as a guest.
///
/// Only on the routes that act for a caller (carts, checkout, admin): the catalog and the auth
/// routes ignore the header, as they always did.
struct Authenticator: RouterMiddleware {
    typealias Context = ShopRequestContext
    let tokens: AccessTokens

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        guard let header = request.headers[.authorization] else { return try await next(request, context) }
        let parts = header.split(separator: " ", maxSplits: 1)
        guard parts.count == 2, parts[0].lowercased() == "bearer" else { throw APIError.invalidToken }
        // trimmingSpaces, not Foundation's trimmingCharacters: that bridges through NSString and
        // was 5% of a cart call. A token holds no other white space (anything else fails).
        guard let identity = await tokens.verify(String(parts[1].trimmingSpaces)) else { throw APIError.invalidToken }
        var context = context
        context.identity = identity
        return try await next(request, context)
    }
}
