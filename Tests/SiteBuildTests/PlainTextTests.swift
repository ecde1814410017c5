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
