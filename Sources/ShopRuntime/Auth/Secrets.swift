import Crypto
import Foundation

/// Random tokens and their digests. Tokens are URL-safe base64 without padding; what the
/// database keeps is the SHA-256 hex of a token, so a leaked table opens no session or cart.
enum Secrets {
    /// `byteCount` bytes from the system's CSPRNG.
    static func randomBytes(_ byteCount: Int) -> [UInt8] {
        var generator = SystemRandomNumberGenerator()
        return (0..<byteCount).map { _ in UInt8.random(in: .min ... .max, using: &generator) }
    }

    static func randomToken(bytes: Int) -> String { base64URL(randomBytes(bytes)) }

    static func base64URL<D: Sequence>(_ bytes: D) -> String where D.Element == UInt8 {
        Data(bytes).base64EncodedString()
            .replacingOccurrences(of: "+", with: "-")
            .replacingOccurrences(of: "/", with: "_")
            .replacingOccurrences(of: "=", with: "")
    }

    static func sha256Hex(_ text: String) -> String {
        SHA256.hash(data: Data(text.utf8)).map { String(format: "%02x", $0) }.joined()
    }

    static func hmac(key: SymmetricKey, _ text: String) -> [UInt8] {
        Array(HMAC<SHA256>.authenticationCode(for: Data(text.utf8), using: key))
    }

    /// A token as a client may send it: URL-safe base64 of a fixed length, nothing else. Anything
    /// else is refused before it reaches a hash or the database.
    static func isWellFormedToken(_ text: String, bytes: Int) -> Bool {
        let length = (bytes * 4 + 2) / 3
        return text.utf8.count == length
            && text.utf8.allSatisfy { ($0 >= 0x30 && $0 <= 0x39) || ($0 >= 0x41 && $0 <= 0x5A) || ($0 >= 0x61 && $0 <= 0x7A) || $0 == 0x2D || $0 == 0x5F }
    }
}
