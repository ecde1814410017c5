import HTTPTypes
import Hummingbird
import ShopCore

/// CORS exactly as API.md says: the request's Origin is echoed only when it is in the
/// environment's allowlist, always with credentials and `Vary: Origin`; a disallowed origin gets
/// no CORS headers at all. Hummingbird's own CORSMiddleware reflects any origin by default, which
/// is the mistake this replaces.
struct CORSPolicyMiddleware<Context: RequestContext>: RouterMiddleware {
    let policy: OriginPolicy
    static var allowedMethods: String { "GET, POST, PATCH, DELETE, OPTIONS" }
    static var allowedHeaders: String { "Authorization, Content-Type, Idempotency-Key, X-Cart-Token, X-Requested-With" }
    static var maxAge: String { "600" }
    static var exposedHeaders: String { "X-Cart-Token, X-Request-Id, Retry-After, Idempotent-Replayed" }

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        guard let origin = request.headers[.origin] else {
            var response = try await next(request, context)
            addVary(&response.headers)
            return response
        }
        let allowed = policy.allows(origin)
        if request.method == .options, request.headers[.accessControlRequestMethod] != nil {
            guard allowed else {
                var response = try APIError(.forbidden, "origin_not_allowed", "This origin may not call the API.")
                    .response(from: request, context: context)
                addVary(&response.headers)
                return response
            }
            var headers: HTTPFields = [:]
            headers[.accessControlAllowOrigin] = origin
            headers[.accessControlAllowCredentials] = "true"
            headers[.accessControlAllowMethods] = Self.allowedMethods
            headers[.accessControlAllowHeaders] = Self.allowedHeaders
            headers[.accessControlMaxAge] = Self.maxAge
            addVary(&headers)
            return Response(status: .noContent, headers: headers)
        }
        var response = try await next(request, context)
        if allowed {
            response.headers[.accessControlAllowOrigin] = origin
            response.headers[.accessControlAllowCredentials] = "true"
            // Without this a front end on another origin could not read the new cart's token.
            response.headers[.accessControlExposeHeaders] = Self.exposedHeaders
        }
        addVary(&response.headers)
        return response
    }

    private func addVary(_ headers: inout HTTPFields) {
        if !(headers[values: .vary].contains { $0.lowercased().contains("origin") }) {
            headers.append(HTTPField(name: .vary, value: "Origin"))
        }
    }
}
