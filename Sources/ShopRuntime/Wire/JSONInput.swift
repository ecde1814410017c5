import Foundation
import Hummingbird

/// Reads a request body as JSON, the way API.md wants every mistake answered: 415 for another
/// media type, 413 past 64 KiB (from the context's limit), 422 naming the field for a body of the
/// wrong shape, and never a 500, whatever bytes arrive.
enum JSONInput {
    /// nil: the body was empty and `allowEmpty` said that is fine.
    static func decode<T: Decodable>(_ type: T.Type, from request: Request, context: ShopRequestContext, allowEmpty: Bool = false)
        async throws -> T?
    {
        let body = try await request.body.collect(upTo: context.maxUploadSize)
        if body.readableBytes == 0 {
            if allowEmpty { return nil }
            throw APIError(.unprocessableContent, "invalid_json", "Send a JSON object as the request body.")
        }
        if let contentType = request.headers[.contentType] {
            let media = contentType.split(separator: ";").first?.trimmingSpaces.lowercased() ?? ""
            guard media == "application/json" else {
                throw APIError(.unsupportedMediaType, "unsupported_media_type", "Send JSON (Content-Type: application/json).")
            }
        } else {
            throw APIError(.unsupportedMediaType, "unsupported_media_type", "Send JSON (Content-Type: application/json).")
        }
        do {
            return try JSONDecoder().decode(T.self, from: Data(buffer: body))
        } catch let error as DecodingError {
            throw shape(error)
        } catch {
            throw APIError(.unprocessableContent, "invalid_json", "The body is not valid JSON.")
        }
    }

    static func shape(_ error: DecodingError) -> APIError {
        func path(_ codingPath: [any CodingKey]) -> String {
            codingPath.map { $0.intValue.map(String.init) ?? $0.stringValue }.joined(separator: ".")
        }
        switch error {
        case .keyNotFound(let key, let context):
            let field = path(context.codingPath + [key])
            return .invalidField(field, "\(field) is required.")
        case .valueNotFound(_, let context):
            let field = path(context.codingPath)
            return .invalidField(field, "\(field) must not be null.")
        case .typeMismatch(let type, let context):
            let field = path(context.codingPath)
            if field.isEmpty { return APIError(.unprocessableContent, "invalid_json", "The body must be a JSON object.") }
            return .invalidField(field, "\(field) must be \(describe(type)).")
        case .dataCorrupted(let context):
            let field = path(context.codingPath)
            if field.isEmpty { return APIError(.unprocessableContent, "invalid_json", "The body is not valid JSON.") }
            return .invalidField(field, "\(field) has an invalid value.")
        @unknown default:
            return APIError(.unprocessableContent, "invalid_json", "The body is not valid JSON.")
        }
    }

    private static func describe(_ type: Any.Type) -> String {
        switch type {
        case is Int.Type, is Int64.Type, is WholeNumber.Type: "an integer"
        case is String.Type: "a string"
        case is Bool.Type: "true or false"
        default: "of another type"
        }
    }
}

/// An integer field. Foundation's decoder reports `1.5` for an Int without saying which field
/// it was in; this type says so (a 422 naming the field), and accepts `2.0` as 2.
struct WholeNumber: Decodable, Sendable {
    let value: Int

    init(from decoder: any Decoder) throws {
        let container = try decoder.singleValueContainer()
        if let value = try? container.decode(Int.self) {
            self.value = value
            return
        }
        let number: Double
        do {
            number = try container.decode(Double.self)
        } catch {
            throw DecodingError.typeMismatch(Int.self, .init(codingPath: decoder.codingPath, debugDescription: "not an integer"))
        }
        guard number.rounded() == number, abs(number) < 1e15 else {
            throw DecodingError.typeMismatch(Int.self, .init(codingPath: decoder.codingPath, debugDescription: "not an integer"))
        }
        value = Int(number)
    }
}
