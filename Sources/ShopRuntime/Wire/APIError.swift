import Foundation
import HTTPTypes
import Hummingbird

private struct ErrorBody: Encodable {
    let error: String
    let message: String
    /// The request field at fault (422s), so a form can point at it.
    let field: String?
    /// The SKU at fault (409 insufficient_stock, 404 unknown_sku).
    let sku: String?
}

/// An error as API.md shapes it: a status and `{"error": "<snake_case_code>", "message": "..."}`.
public struct APIError: HTTPResponseError, Equatable {
    public var status: HTTPResponse.Status
    public var code: String
    public var message: String
    public var field: String?
    public var sku: String?
    /// Seconds a client should wait before trying again (429, 503).
    public var retryAfter: Int?

    public init(_ status: HTTPResponse.Status, _ code: String, _ message: String, field: String? = nil, sku: String? = nil,
                retryAfter: Int? = nil)
    {
        self.status = status
        self.code = code
        self.message = message
        self.field = field
        self.sku = sku
        self.retryAfter = retryAfter
    }

    /// A request field that is missing, of the wrong type or out of range.
    public static func invalidField(_ field: String, _ message: String) -> APIError {
        APIError(.unprocessableContent, "invalid_field", message, field: field)
    }

    public static var unauthorized: APIError {
        APIError(.unauthorized, "unauthorized", "Sign in first: send Authorization: Bearer <access token>.")
    }

    public static var invalidToken: APIError {
        APIError(.unauthorized, "invalid_token", "The access token is invalid or has expired; refresh it or sign in again.")
    }

    public static func notFound(_ message: String = "There is nothing at this address.") -> APIError {
        APIError(.notFound, "not_found", message)
    }

    /// Sorted keys: one error is always the same bytes (a login failure must not differ by path).
    private static let encoder: JSONEncoder = {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return encoder
    }()

    public func response(from request: Request, context: some RequestContext) throws -> Response {
        let data = try Self.encoder.encode(ErrorBody(error: code, message: message, field: field, sku: sku))
        var headers: HTTPFields = [.contentType: "application/json; charset=utf-8", .cacheControl: "no-store"]
        if let retryAfter { headers[.retryAfter] = String(retryAfter) }
        if status == .unauthorized { headers[.wwwAuthenticate] = "Bearer" }
        // The framework answers 405 only for static files (the API's routes give 404 instead).
        if status == .methodNotAllowed { headers[.allow] = "GET, HEAD" }
        return Response(status: status, headers: headers, body: .init(byteBuffer: ByteBuffer(bytes: data)))
    }
}

/// Turns every error into API.md's shape, so a client never sees a bare status, an HTML error
/// page from the framework, or a dropped connection. Unknown errors become a 500 that names
/// nothing internal; the details go to the log.
struct ErrorShapeMiddleware<Context: RequestContext>: RouterMiddleware {
    /// The built site's 404 page, served for pages (not API calls) that do not exist.
    let notFoundPage: String?

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        do {
            return try await next(request, context)
        } catch let error as APIError {
            return try error.response(from: request, context: context)
        } catch let error as any HTTPResponseError {
            let shaped = Self.shape(error.status, for: request)
            if shaped.status == .notFound, !request.uri.path.hasPrefix("/api/"), let page = notFoundPage,
               let html = try? String(contentsOfFile: page, encoding: .utf8)
            {
                return Response(status: .notFound, headers: [.contentType: "text/html; charset=utf-8"],
                                body: .init(byteBuffer: ByteBuffer(string: html)))
            }
            return try shaped.response(from: request, context: context)
        } catch {
            context.logger.error("request failed", metadata: ["error": "\(String(reflecting: error))", "path": "\(request.uri.path)"])
            return try APIError(.internalServerError, "internal_error", "Something went wrong on our side; it has been logged.")
                .response(from: request, context: context)
        }
    }

    static func shape(_ status: HTTPResponse.Status, for request: Request) -> APIError {
        switch status {
        case .notFound: .notFound()
        case .methodNotAllowed: APIError(.methodNotAllowed, "method_not_allowed", "\(request.method) is not allowed here.")
        case .unprocessableContent: APIError(.unprocessableContent, "invalid_request", "The request could not be processed.")
        case .badRequest: APIError(.badRequest, "bad_request", "The request is malformed.")
        case .contentTooLarge: APIError(.contentTooLarge, "body_too_large", "The request body is too large.")
        case .unsupportedMediaType: APIError(.unsupportedMediaType, "unsupported_media_type", "Send JSON (Content-Type: application/json).")
        default:
            APIError(status, status.reasonPhrase.lowercased().replacingOccurrences(of: " ", with: "_"), status.reasonPhrase)
        }
    }
}

/// Headers every response carries.
struct SecurityHeadersMiddleware<Context: RequestContext>: RouterMiddleware {
    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        var response = try await next(request, context)
        response.headers[.xContentTypeOptions] = "nosniff"
        response.headers[.referrerPolicy] = "strict-origin-when-cross-origin"
        if request.uri.path.hasPrefix("/api/") && response.headers[.cacheControl] == nil {
            response.headers[.cacheControl] = "no-store"
        }
        return response
    }
}

extension HTTPField.Name {
    static let xContentTypeOptions = Self("X-Content-Type-Options")!
    static let referrerPolicy = Self("Referrer-Policy")!
}
