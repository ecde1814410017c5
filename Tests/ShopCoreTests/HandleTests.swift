import ShopCore
import Testing

@Suite("Handle")
struct HandleTests {
    @Test("Usable handles are accepted", arguments: [
        "art-print", "a", "fig_bowl-print", "a4", "123", "café", "straße", "日本",
    ])
    func acceptsValid(handle: String) {
        #expect(Handle.isValid(handle))
    }

    @Test("Handles that could climb out of a folder or collide are refused", arguments: [
        "", "a/b", "..", ".", "a.b", "A", "Art-print", "a b", " a", "a\n", "a\\b", "a%2Fb", "a?b", "a#b", "a\u{0}b",
        "a\u{200B}b",  // zero-width space
    ])
    func refusesInvalid(handle: String) {
        #expect(!Handle.isValid(handle))
    }

    @Test("A handle is at most 255 bytes")
    func lengthLimit() {
        #expect(Handle.isValid(String(repeating: "a", count: 255)))
        #expect(!Handle.isValid(String(repeating: "a", count: 256)))
        // 128 two-byte letters are 256 bytes.
        #expect(!Handle.isValid(String(repeating: "é", count: 128)))
    }

    @Test("Slugs from free text", arguments: [
        ("Art Print", "art-print"),
        ("Café Noir!", "cafe-noir"),
        ("  --Hello   World--  ", "hello-world"),
        ("A4 / No frame", "a4-no-frame"),
        ("ÉCOLE", "ecole"),
        ("", ""),
        ("!!!", ""),
    ])
    func slug(text: String, expected: String) {
        #expect(Handle.slug(text) == expected)
    }

    @Test("A non-empty slug is always a valid handle", arguments: [
        "Art Print", "Café Noir!", "Größe XL", "50% off / today", "Ünïcödé ÀÉÎ", String(repeating: "Long Word ", count: 60),
    ])
    func slugIsValidHandle(text: String) {
        let slug = Handle.slug(text)
        #expect(!slug.isEmpty)
        #expect(Handle.isValid(slug), "\(slug)")
        #expect(slug.utf8.count <= Handle.maxLength)
    }
}
