import Foundation
import HTTPTypes
import Hummingbird

private struct ErrorBody: Encodable {
    let error: String
    let message: String
}

/// An error as API.md shapes it: a status and `{"error": "<snake_case_code>", "message": "..."}`.
public struct APIError: HTTPResponseError, Equatable {
    public var status: HTTPResponse.Status
    public var code: String
    public var message: String

    public init(_ status: HTTPResponse.Status, _ code: String, _ message: String) {
        self.status = status
        self.code = code
        self.message = message
    }

    public static func notFound(_ message: String = "There is nothing at this address.") -> APIError {
        APIError(.notFound, "not_found", message)
    }

    public func response(from request: Request, context: some RequestContext) throws -> Response {
        let data = try JSONEncoder().encode(ErrorBody(error: code, message: message))
        var headers: HTTPFields = [.contentType: "application/json; charset=utf-8", .cacheControl: "no-store"]
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
