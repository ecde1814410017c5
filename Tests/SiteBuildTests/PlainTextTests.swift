import Foundation
@testable import SiteBuild
import Testing

@Suite("PlainText.fromHTML")
struct PlainTextTests {
    @Test("tags are dropped; paragraphs and line breaks become newlines")
    func blocksBecomeLines() {
        let text = PlainText.fromHTML("<p>A quiet <em>corner</em> after the music.</p><p>Printed on <strong>matte</strong> paper.<br>Unframed.<br/>Signed.</p>")
        #expect(text == "A quiet corner after the music.\nPrinted on matte paper.\nUnframed.\nSigned.")
    }

    @Test("lists and headings end lines too")
    func listsAndHeadings() {
        #expect(PlainText.fromHTML("<h2>Sizes</h2><ul><li>A4</li><li>A3</li></ul>") == "Sizes\nA4\nA3")
    }

    @Test("runs of blank lines collapse to one; blank lines at either end are trimmed")
    func blankLines() {
        let text = PlainText.fromHTML("\n\n<h2>Sizes</h2>\n\n\n<ul><li>A4</li><li>A3</li></ul>\n\n")
        #expect(text == "Sizes\n\nA4\nA3")
    }

    @Test("lines are trimmed of Unicode spaces too, and text between them is kept as written")
    func unicodeSpaces() {
        // U+00A0, U+3000 and U+2003 at the edges of lines; tabs, CR and a space inside.
        let text = PlainText.fromHTML("\u{00A0}\u{3000}Große Drucke\u{2003}\r\n\t \n\u{00A0}\n<p>\tZürich à la carte \u{00A0}</p>日本 \n")
        #expect(text == "Große Drucke\n\nZürich à la carte\n日本")
        #expect(PlainText.collapsingLines(Array("  a \n\n\n b\t\n\n".utf8)) == "a\n\nb")
        #expect(PlainText.collapsingLines([]) == "")
    }

    @Test("characters HTML forbids are dropped from catalog text; everything else is kept")
    func displayable() {
        #expect(PlainText.displayable("plain ASCII, tabs\tand\nlines") == "plain ASCII, tabs\tand\nlines")
        let unfit: [UInt32] = [0x00, 0x7F, 0x85, 0xFDD0, 0xFFFE, 0x1FFFF]
        var text = "a"
        for (value, letter) in zip(unfit, "bcdefg") { text.unicodeScalars.append(Unicode.Scalar(value)!); text.append(letter) }
        #expect(PlainText.displayable(text) == "abcdefg")
        #expect(PlainText.displayable("é ü 日本 \u{A0} \u{FEFF} 🎉") == "é ü 日本 \u{A0} \u{FEFF} 🎉")
    }

    @Test("named and numeric entities are decoded")
    func entities() {
        #expect(PlainText.fromHTML("Salt &amp; pepper &lt;3 it&#39;s &#x41;&#66; &quot;ok&quot; &euro;5") == "Salt & pepper <3 it's AB \"ok\" €5")
    }

    @Test("unknown entities and a lone ampersand are left as written")
    func unknownEntities() {
        #expect(PlainText.fromHTML("Fish & chips &bogus; &#1;") == "Fish & chips &bogus; &#1;")
    }

    @Test("script, style and template contents are dropped")
    func hiddenContent() {
        let text = PlainText.fromHTML("<p>Before</p><script>alert(\"x\")</script><style>p { color: red }</style><p>After</p>")
        #expect(text == "Before\nAfter")
        #expect(!text.contains("alert"))
        #expect(!text.contains("color"))
    }

    @Test("upper-case tags are recognised")
    func upperCaseTags() {
        #expect(PlainText.fromHTML("<P>One</P><SCRIPT>alert(1)</SCRIPT><P>Two</P>") == "One\nTwo")
    }

    @Test("a script that contains < does not swallow the text after it")
    func scriptWithLessThan() {
        // An inline script with a comparison is common in pasted Shopify bodies (widgets, trackers).
        let text = PlainText.fromHTML("<script>if (a<b) { go() }</script><p>After the script.</p>")
        #expect(text == "After the script.")
    }

    @Test("the result is text only: markup that was in the HTML cannot survive as tags")
    func noMarkupSurvives() {
        let text = PlainText.fromHTML("<img src=x onerror=alert(1)><p>Nice <a href=\"javascript:alert(2)\">print</a></p>")
        #expect(text == "Nice print")
    }
}

@Suite("JSON inside a script element")
struct ScriptSafeJSONTests {
    /// Every kind of character the escaper treats apart, alone, at either end and among plain text.
    static let samples: [String] = {
        let pieces = [
            "\"", "\\", "\n", "\r", "\t", "\u{0}", "\u{1F}", "\u{7F}", "<", ">", "&", "</script>",
            "é", "—", "日本", "\u{A0}", "\u{85}", "\u{9F}", "\u{2028}", "\u{2029}", "\u{2027}", "\u{202A}",
            String(Unicode.Scalar(0xFDD0)!), String(Unicode.Scalar(0xFDEF)!), "\u{FDF0}", "\u{FFFD}", "\u{FFFE}", "\u{FFFF}", "\u{FEFF}",
            "🎉", "\u{1FFFE}", "\u{10FFFF}", "\u{10000}",
        ]
        return pieces + pieces.map { "a\($0)b" } + [pieces.joined(), pieces.joined(separator: "plain text "), ""]
    }()

    @Test("A string comes back whole from a JSON reader, with no raw <, >, &, U+2028/9, C1 control or noncharacter")
    func escapes() throws {
        for sample in Self.samples {
            var json = ScriptSafeJSON()
            json.string(sample)
            let text = json.text
            let decoded = try JSONDecoder().decode(String.self, from: Data(text.utf8))
            #expect(decoded == sample, "\(text.debugDescription)")
            for scalar in text.unicodeScalars {
                let forbidden = scalar.value < 0x20 || scalar == "<" || scalar == ">" || scalar == "&"
                    || scalar.value == 0x2028 || scalar.value == 0x2029 || PlainText.isUnfitForPages(scalar)
                #expect(!forbidden, "U+\(String(scalar.value, radix: 16)) written raw for \(sample.debugDescription)")
            }
        }
    }

    @Test("Plain text and characters that need no escape are written as they are")
    func plainTextUnchanged() {
        for sample in ["Fig Bowl Print", "é — 日本 🎉 \u{A0}", "\u{2027}\u{202A}\u{FDF0}\u{FEFF}"] {
            var json = ScriptSafeJSON()
            json.string(sample)
            #expect(json.text == "\"\(sample)\"")
        }
        var json = ScriptSafeJSON()
        json.string("say \"hi\" \\ </b>\u{2028}")
        #expect(json.text == #""say \"hi\" \\ \u003c/b\u003e\u2028""#)
    }
}
