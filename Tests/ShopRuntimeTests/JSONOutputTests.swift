import Foundation
import NIOCore
import Testing
@testable import ShopRuntime

/// The hand-written JSON of the product and stock answers must read back exactly as written,
/// whatever a catalog text holds.
@Suite("JSON output")
struct JSONOutputTests {
    @Test("Every ASCII character, quotes, backslashes, controls and non-ASCII text read back unchanged")
    func stringsRoundTrip() throws {
        let ascii = String(decoding: (0..<0x80).map { UInt8($0) }, as: UTF8.self)
        let texts = [ascii, "", "plain", "say \"hi\" \\ back", "tab\there\nline\r\u{0}\u{1F}", "Café ☕︎ 𝄞 \u{2028}\u{2029}", "</script><!--"]
        var json = JSONOutput()
        json.raw("[")
        for (index, text) in texts.enumerated() {
            if index > 0 { json.raw(",") }
            json.string(text)
        }
        json.raw(",")
        json.int(-42)
        json.raw(",")
        json.int(Int.max)
        json.raw("]")
        let bytes = Data(json.buffer.readableBytesView)
        let decoded = try #require(try JSONSerialization.jsonObject(with: bytes) as? [Any])
        #expect(decoded.prefix(texts.count).compactMap { $0 as? String } == texts)
        #expect((decoded[texts.count] as? NSNumber)?.intValue == -42)
        #expect((decoded[texts.count + 1] as? NSNumber)?.int64Value == Int64.max)
    }

    @Test("Spaces and tabs are trimmed from both ends only")
    func trimming() {
        #expect(Substring("  A-1\t ").trimmingSpaces == "A-1")
        #expect(Substring(" a b ").trimmingSpaces == "a b")
        #expect(Substring(" \t ").trimmingSpaces.isEmpty)
        #expect(Substring("é ").trimmingSpaces == "é")
    }
}
