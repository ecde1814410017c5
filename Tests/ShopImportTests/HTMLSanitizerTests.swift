import Foundation
import ShopCore
import ShopImport
import ShopTestSupport
import Testing

@Suite("HTMLSanitizer")
struct HTMLSanitizerTests {
    @Test("Known XSS vectors come out inert, and a second pass changes nothing", arguments: XSSVectors.all)
    func xssVector(html: String) {
        let output = HTMLSanitizer.sanitize(html)
        #expect(SafeHTML.problems(in: output) == [], "\(html) gave \(output)")
        #expect(HTMLSanitizer.sanitize(output) == output, "\(html) gave \(output)")
    }

    @Test("The corpus holds at least 45 distinct vectors")
    func corpusSize() {
        #expect(XSSVectors.all.count >= 45)
        #expect(Set(XSSVectors.all).count == XSSVectors.all.count, "a vector is listed twice")
    }

    @Test("Attributes go, the elements they were on stay", arguments: [
        (#"<p onclick=alert(1)>x</p>"#, "<p>x</p>"),
        (#"<p ONMOUSEOVER="alert(1)" class="x" id="y">hover</p>"#, "<p>hover</p>"),
        (#"<TABLE BACKGROUND="javascript:alert('XSS')"><TR><TD BACKGROUND="javascript:alert('XSS')" colspan="2" onclick="x">cell</TD></TR></TABLE>"#,
         #"<table><tr><td colspan="2">cell</td></tr></table>"#),
        (#"<a href="https://ok.example/" onclick="alert(1)" style="color:red" target="_blank">ok</a>"#,
         #"<a href="https://ok.example/" rel="nofollow noopener">ok</a>"#),
        (#"<a href="https://ok.example/" rel="opener">rel</a>"#, #"<a href="https://ok.example/" rel="nofollow noopener">rel</a>"#),
        (#"<a href="http://a.example/" href="javascript:alert(1)">duplicate</a>"#,
         #"<a href="http://a.example/" rel="nofollow noopener">duplicate</a>"#),
        (#"<a href='https://ok.example/"onmouseover="alert(1)'>quote</a>"#,
         #"<a href="https://ok.example/&quot;onmouseover=&quot;alert(1)" rel="nofollow noopener">quote</a>"#),
        (#"<td colspan="2 onclick=alert(1)">cell</td><th rowspan="-1">h</th><td colspan="1000">big</td>"#, "<td>cell</td><th>h</th><td>big</td>"),
        (#"<div style="background:url(javascript:alert(1))">styled</div>"#, "styled"),
        (#"<details open ontoggle=alert(1)>details</details>"#, "details"),
    ] as [(String, String)])
    func attributesDropped(html: String, expected: String) {
        #expect(HTMLSanitizer.sanitize(html) == expected)
    }

    @Test("Code, documents and forms go with everything inside them", arguments: [
        (#"<script>alert(1)</script>Text"#, "Text"),
        (#"<style>p { color: red }</style><p>Text</p>"#, "<p>Text</p>"),
        (#"<noscript><p title="</noscript><img src=x onerror=alert(1)>">"#, ""),
        (#"<math><mtext><table><mglyph><style><img src=x onerror=alert(1)>"#, ""),
        (#"<svg><text>drawn</text></svg>kept"#, "kept"),
        (#"<iframe src="https://ok.example/">fallback</iframe>kept"#, "kept"),
        (#"<form action="https://ok.example/"><p>inside</p><input value="x"></form>kept"#, "kept"),
        (#"<textarea><b>typed</b></textarea>kept"#, "kept"),
        (#"<template><p>later</p></template>kept"#, "kept"),
        (#"<html><head><title>Page</title><script>alert(1)</script></head><body onload=alert(1)><p>after</p></body></html>"#, "<p>after</p>"),
        (#"<a href="https://ok.example/">x</a></body><script>alert(1)</script></html><img src=x onerror=alert(1)>"#,
         #"<a href="https://ok.example/" rel="nofollow noopener">x</a>"#),
        (#""><script>alert(1)</script>"#, "\"&gt;"),
        (#"<!-- a comment --><p>x</p><!--[if gte IE 4]><SCRIPT>alert('XSS');</SCRIPT><![endif]-->"#, "<p>x</p>"),
        (#"<?xml-stylesheet href="https://ok.example/x.css"?><p>x</p>"#, "<p>x</p>"),
        (#"<!DOCTYPE html><p>x</p>"#, "<p>x</p>"),
    ] as [(String, String)])
    func droppedWithContent(html: String, expected: String) {
        #expect(HTMLSanitizer.sanitize(html) == expected)
    }

    @Test("A link to anything but http, https or mailto loses its tag and keeps its text", arguments: [
        #"<a href="javascript:alert(1)">label</a>"#,
        #"<a href="JaVaScRiPt:alert(1)">label</a>"#,
        #"<a href="  javascript:alert(1)">label</a>"#,
        #"<a href="jav&#x09;ascript:alert(1)">label</a>"#,
        #"<a href="jav&#x0A;ascript:alert(1)">label</a>"#,
        #"<a href="jav&#x0D;ascript:alert(1)">label</a>"#,
        "<a href=\"java\tscript:alert(1)\">label</a>",
        #"<a href="java&#0000115;cript:alert(1)">label</a>"#,
        #"<a href="&#106;&#97;&#118;&#97;&#115;&#99;&#114;&#105;&#112;&#116;&#58;alert(1)">label</a>"#,
        #"<a href="&#x6A;avascript&#x3A;alert(1)">label</a>"#,
        #"<a href="jAvAsCrIpT&#58;alert(1)">label</a>"#,
        #"<a href="javascript&colon;alert(1)">label</a>"#,
        #"<a href="javascript%3Aalert(1)">label</a>"#,
        #"<a href="&#x20;javascript:alert(1)">label</a>"#,
        #"<a href=" &#14;  javascript:alert(1)">label</a>"#,
        #"<a href="vbscript:msgbox(1)">label</a>"#,
        #"<a href="data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==">label</a>"#,
        #"<a href="//evil.example/x">label</a>"#,
        #"<a href="/relative/path">label</a>"#,
        #"<a href="relative.html">label</a>"#,
        #"<a href="ht tp://example.com/">label</a>"#,
        #"<a href="ftp://example.com/">label</a>"#,
        #"<a href="">label</a>"#,
        #"<a>label</a>"#,
        #"<a name="top">label</a>"#,
    ])
    func refusedLinks(html: String) {
        #expect(HTMLSanitizer.sanitize(html) == "label")
    }

    @Test("Allowed markup comes out as it went in, or in its one written form", arguments: AllowedExamples.all)
    func allowedMarkup(html: String, expected: String) {
        let output = HTMLSanitizer.sanitize(html)
        #expect(output == expected)
        #expect(SafeHTML.problems(in: output) == [])
        #expect(HTMLSanitizer.sanitize(output) == output)
    }

    @Test("Blocks freed from a dropped wrapper settle in one call", arguments: [
        "<h3><div><p>x</p></div></h3>",
        "<td>y z<pre><td>",
        "<b><caption><p>x</p></caption></b>",
        "<h3>&amp; <dt> &amp;<li>x</li></h3>",
        "<tr><h3><div><table></table></div></h3></tr>",
    ])
    func reshapedOnce(html: String) {
        let output = HTMLSanitizer.sanitize(html)
        #expect(SafeHTML.problems(in: output) == [], "\(output)")
        #expect(HTMLSanitizer.sanitize(output) == output, "\(output)")
    }

    @Test("Random tag soup comes out safe, and unchanged by a second call")
    func tagSoup() {
        var generator = SplitMix64(state: 2024)
        for _ in 0..<500 {
            let html = TagSoup.make(using: &generator)
            let output = HTMLSanitizer.sanitize(html)
            #expect(SafeHTML.problems(in: output) == [], "\(html) gave \(output)")
            #expect(HTMLSanitizer.sanitize(output) == output, "\(html) gave \(output)")
        }
    }

    @Test("Empty and whitespace-only input, and input that is all dropped, give nothing", arguments: [
        "", " ", "   ", "\n\t \r\n", "<script>alert(1)</script>", "<!-- only a comment -->", "<style>p{}</style>  \n",
    ])
    func nothing(html: String) {
        #expect(HTMLSanitizer.sanitize(html) == "")
    }

    @Test("NUL characters neither crash the parser nor reach the output")
    func nulCharacters() {
        let text = HTMLSanitizer.sanitize("<p>a\u{0}b</p>")
        #expect(!text.contains("\u{0}"))
        #expect(text.hasPrefix("<p>a") && text.hasSuffix("b</p>"), "\(text)")
        let link = HTMLSanitizer.sanitize("<a href=\"java\u{0}script:alert(1)\">x</a>")
        #expect(!link.contains("href"))
        #expect(SafeHTML.problems(in: link) == [])
    }

    @Test("A tower of 200,000 nested tags neither crashes nor comes out deeper than the limit")
    func deepNesting() {
        let html = String(repeating: "<b>", count: 200_000) + "deep" + String(repeating: "</b>", count: 200_000)
        let output = HTMLSanitizer.sanitize(html)
        let written = WrittenHTML(output)
        #expect(written.problems == [])
        #expect(written.deepestNesting <= HTMLSanitizer.maxOpenElements)
        #expect(SafeHTML.problems(in: output) == [])
        #expect(HTMLSanitizer.sanitize(output) == output)
    }

    @Test("Elements deeper than the limit lose their tags and keep their text")
    func deeperThanTheLimit() {
        // 250 levels: deeper than the output's limit, not yet at libxml2's own (256).
        let html = String(repeating: "<b>", count: 250) + "deep" + String(repeating: "</b>", count: 250) + " after"
        let output = HTMLSanitizer.sanitize(html)
        let written = WrittenHTML(output)
        #expect(written.problems == [])
        #expect(written.deepestNesting == HTMLSanitizer.maxOpenElements)
        #expect(written.tags.filter { !$0.isEnd }.count == HTMLSanitizer.maxOpenElements)
        #expect(written.text == "deep after")
    }

    @Test("Input over the size limit is sanitised up to the limit, cut at a character boundary")
    func oversizedInput() {
        let paragraph = "<p>Hello <b>x</b> &amp; y</p>"
        let html = String(repeating: paragraph, count: HTMLSanitizer.maxInputBytes / paragraph.utf8.count + 100)
        #expect(html.utf8.count > HTMLSanitizer.maxInputBytes)
        let output = HTMLSanitizer.sanitize(html)
        #expect(output.hasPrefix(paragraph + paragraph))
        // Elements the cut left open are closed, so a few bytes over the limit are possible.
        #expect(output.utf8.count < HTMLSanitizer.maxInputBytes + paragraph.utf8.count)
        #expect(SafeHTML.problems(in: output) == [])

        // Three bytes a character: the limit falls inside one, which is left out whole.
        let kanji = String(repeating: "日", count: 400_000)
        #expect(HTMLSanitizer.sanitize(kanji) == String(repeating: "日", count: HTMLSanitizer.maxInputBytes / 3))
    }

    @Test("Many callers at once get the same bytes as one caller alone")
    func concurrentCalls() async {
        let inputs = XSSVectors.all + AllowedExamples.all.map { $0.0 }
        let expected = inputs.map(HTMLSanitizer.sanitize)
        await withTaskGroup(of: (Int, String).self) { group in
            for _ in 0..<8 {
                for (index, input) in inputs.enumerated() {
                    group.addTask { (index, HTMLSanitizer.sanitize(input)) }
                }
            }
            for await (index, output) in group {
                #expect(output == expected[index], "\(inputs[index])")
            }
        }
    }

    @Test("Every fixture body keeps its words and nothing but allowed markup", arguments: Repository.shopifyFixtureNames())
    func fixtureBodies(name: String) throws {
        var reader = try CSVReader(path: Repository.shopifyFixture(name))
        let header = try reader.nextRecord()?.fields ?? []
        let bodyColumn = header.firstIndex { $0.trimmingCharacters(in: .whitespaces) == "Body (HTML)" }
        let column = try #require(bodyColumn, "\(name) has no Body (HTML) column")
        var bodies = 0
        while let record = try reader.nextRecord() {
            guard column < record.fields.count, !record.fields[column].isEmpty else { continue }
            let body = record.fields[column]
            let output = HTMLSanitizer.sanitize(body)
            #expect(SafeHTML.problems(in: output) == [], "line \(record.line): \(output)")
            #expect(Self.words(WrittenHTML(output).text) == Self.words(NaiveText.of(body)), "line \(record.line): \(output)")
            #expect(HTMLSanitizer.sanitize(output) == output, "line \(record.line)")
            bodies += 1
        }
        #expect(bodies > 0, "\(name) has no Body (HTML)")
    }

    static func words(_ text: String) -> [String] {
        text.split(whereSeparator: \.isWhitespace).map(String.init)
    }
}

/// The OWASP XSS Filter Evasion Cheat Sheet's vectors and their relatives (parser confusion,
/// obfuscated schemes, event handlers, elements that carry code), as a stranger's CSV could hold them.
enum XSSVectors {
    static let all: [String] = [
        #"<SCRIPT SRC=https://xss.example/xss.js></SCRIPT>"#,
        #"<SCRIPT>alert('XSS')</SCRIPT>"#,
        #"<IMG SRC="javascript:alert('XSS');">"#,
        #"<IMG SRC=javascript:alert(&quot;XSS&quot;)>"#,
        #"<IMG SRC=JaVaScRiPt:alert('XSS')>"#,
        #"<IMG SRC=`javascript:alert("RSnake says, 'XSS'")`>"#,
        #"<IMG SRC=&#106;&#97;&#118;&#97;&#115;&#99;&#114;&#105;&#112;&#116;&#58;&#97;&#108;&#101;&#114;&#116;&#40;&#39;&#88;&#83;&#83;&#39;&#41;>"#,
        #"<IMG SRC=&#x6A&#x61&#x76&#x61&#x73&#x63&#x72&#x69&#x70&#x74&#x3A&#x61&#x6C&#x65&#x72&#x74&#x28&#x27&#x58&#x53&#x53&#x27&#x29>"#,
        #"<IMG SRC="jav&#x09;ascript:alert('XSS');">"#,
        #"<IMG SRC="jav&#x0A;ascript:alert('XSS');">"#,
        #"<IMG SRC=" &#14;  javascript:alert('XSS');">"#,
        #"<a href="jav&#x09;ascript:alert(1)">tab</a>"#,
        #"<a href="jav&#x0A;ascript:alert(1)">newline</a>"#,
        #"<a href="jav&#x0D;ascript:alert(1)">return</a>"#,
        #"<a href="  javascript:alert(1)">spaces</a>"#,
        #"<a href=" &#14;  javascript:alert(1)">control</a>"#,
        #"<a href="java&#0000115;cript:alert(1)">padded</a>"#,
        #"<a href="&#106;&#97;&#118;&#97;&#115;&#99;&#114;&#105;&#112;&#116;&#58;alert(1)">decimal</a>"#,
        #"<a href="&#x6A;avascript&#x3A;alert(1)">hex</a>"#,
        #"<a href="JaVaScRiPt:alert(1)">mixed case</a>"#,
        #"<a href="javascript&colon;alert(1)">colon entity</a>"#,
        #"<a href="javascript:alert(1)">plain</a>"#,
        "<a href=\"java\tscript:alert(1)\">literal tab</a>",
        #"<a href="vbscript:msgbox(1)">vb</a>"#,
        #"<a href="VBScript:msgbox(1)">vb</a>"#,
        #"<a href="data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==">data</a>"#,
        #"<a href="DATA:text/html,<script>alert(1)</script>">data</a>"#,
        #"<a href="//evil.example/x">protocol relative</a>"#,
        #"<a href="/relative/path">relative</a>"#,
        #"<a href="javascript%3Aalert(1)">percent</a>"#,
        #"<a href="java%0ascript:alert(1)">percent newline</a>"#,
        #"<a href="https://ok.example/" onclick="alert(1)" style="color:red" target="_blank">ok</a>"#,
        #"<a href="https://ok.example/" rel="opener">rel</a>"#,
        #"<BODY ONLOAD=alert('XSS')>"#,
        #"<BODY BACKGROUND="javascript:alert('XSS')">"#,
        #"<svg/onload=alert(1)>"#,
        #"<svg><script>alert(1)</script></svg>"#,
        #"<iframe src=javascript:alert(1)></iframe>"#,
        #"<IFRAME SRC="javascript:alert('XSS');"></IFRAME>"#,
        #"<object data="javascript:alert(1)"></object>"#,
        #"<OBJECT TYPE="text/x-scriptlet" DATA="https://xss.example/scriptlet.html"></OBJECT>"#,
        #"<embed src="data:image/svg+xml;base64,PHN2Zz48c2NyaXB0PmFsZXJ0KDEpPC9zY3JpcHQ+PC9zdmc+">"#,
        #"<EMBED SRC="https://xss.example/xss.swf" AllowScriptAccess="always"></EMBED>"#,
        #"<style>@import'javascript:alert(1)';</style>"#,
        #"<STYLE>li {list-style-image: url("javascript:alert('XSS')");}</STYLE><UL><LI>XSS</br>"#,
        #"<div style="background:url(javascript:alert(1))">styled</div>"#,
        #"<DIV STYLE="width: expression(alert('XSS'));">expr</DIV>"#,
        #"<<SCRIPT>alert("XSS");//<</SCRIPT>"#,
        #"<scr<script>ipt>alert(1)</script>"#,
        #"<SCRIPT/XSS SRC="https://xss.example/xss.js"></SCRIPT>"#,
        #"<SCRIPT a=">" SRC="https://xss.example/xss.js"></SCRIPT>"#,
        #"<math><mtext><table><mglyph><style><img src=x onerror=alert(1)>"#,
        #"<noscript><p title="</noscript><img src=x onerror=alert(1)>">"#,
        #"<META HTTP-EQUIV="refresh" CONTENT="0;url=javascript:alert(1)">"#,
        #"<META HTTP-EQUIV="refresh" CONTENT="0;url=data:text/html base64,PHNjcmlwdD5hbGVydCgnWFNTJyk8L3NjcmlwdD4K">"#,
        #"<BASE HREF="javascript:alert('XSS');//">"#,
        #"<LINK REL="stylesheet" HREF="javascript:alert('XSS');">"#,
        #"<link rel=stylesheet href=javascript:alert(1)>"#,
        #"<form action=javascript:alert(1)><input type=submit></form>"#,
        #"<form action=javascript:alert(1)><input type=submit>"#,
        #"<button formaction=javascript:alert(1)>press</button>"#,
        #"<details open ontoggle=alert(1)>details</details>"#,
        #"<p onclick=alert(1)>x</p>"#,
        #"<p ONMOUSEOVER="alert(1)" class="x" id="y">hover</p>"#,
        #"<TABLE BACKGROUND="javascript:alert('XSS')">"#,
        #"<TABLE BACKGROUND="javascript:alert('XSS')"><TR><TD BACKGROUND="javascript:alert('XSS')" colspan="2" onclick="x">cell</TD></TR></TABLE>"#,
        #"<!--[if gte IE 4]><SCRIPT>alert('XSS');</SCRIPT><![endif]-->"#,
        #"<![CDATA[<script>alert(1)</script>]]>"#,
        #"<?xml-stylesheet href="javascript:alert(1)"?>"#,
        #"<xss:script>"#,
        #"<xss:script>alert(1)</xss:script>"#,
        #"<img src=x:alert(alt) onerror=eval(src) alt=0>"#,
        #"<video><source onerror="alert(1)"></video>"#,
        #"<audio src=x onerror=alert(1)>"#,
        #"<marquee onstart=alert(1)>scroll</marquee>"#,
        #"<isindex type=image src=1 onerror=alert(1)>"#,
        #""><script>alert(1)</script>"#,
        #"'';!--"<XSS>=&{()}"#,
        #"<IMG """><SCRIPT>alert("XSS")</SCRIPT>">"#,
        #"<IMG SRC=# onmouseover="alert('xxs')">"#,
        #"<IMG onmouseover="alert('xxs')">"#,
        #"<INPUT TYPE="IMAGE" SRC="javascript:alert('XSS');">"#,
        #"<BGSOUND SRC="javascript:alert('XSS');">"#,
        #"<BR SIZE="&{alert('XSS')}">"#,
        #"<XSS STYLE="behavior: url(xss.htc);">"#,
        #"<FRAMESET><FRAME SRC="javascript:alert('XSS');"></FRAMESET>"#,
        #"<APPLET CODE="xss.class"></APPLET>"#,
        #"<template><script>alert(1)</script></template>"#,
        #"<textarea><script>alert(1)</script></textarea>"#,
        #"<select><option><script>alert(1)</script></option></select>"#,
        #"<title><script>alert(1)</script></title>"#,
        #"<a href="javascript:alert(1)"><a href="https://ok.example/">nested</a></a>"#,
        #"<a href="http://a.example/" href="javascript:alert(1)">duplicate</a>"#,
        #"<a href=javascript:alert(1)//https://ok.example/>slashes</a>"#,
        #"<a href="&#x6A;&#x61;&#x76;&#x61;&#x73;&#x63;&#x72;&#x69;&#x70;&#x74;&#x3A;alert(1)">hex2</a>"#,
        #"<a href="&#0000106&#0000097&#0000118&#0000097&#0000115&#0000099&#0000114&#0000105&#0000112&#0000116&#0000058alert(1)">padded</a>"#,
        #"<a href="jAvAsCrIpT&#58;alert(1)">ent colon</a>"#,
        #"<a href="&#x20;javascript:alert(1)">space ent</a>"#,
        #"<a href="javascript&#x3a;alert(1)">hex colon</a>"#,
        #"<a href="https:">bare</a><a href="mailto:">bare</a>"#,
        #"<a href="&#x68;ttps://ok.example/">encoded ok</a>"#,
        #"<td colspan="2 onclick=alert(1)">cell</td><th rowspan="-1">h</th><td colspan="1000">big</td>"#,
        #"<p>x</p><plaintext><script>alert(1)</script>"#,
        #"<xmp><script>alert(1)</script></xmp>"#,
        #"<listing><img src=x onerror=alert(1)></listing>"#,
        #"<noembed><img src=x onerror=alert(1)></noembed>"#,
        #"<noframes><img src=x onerror=alert(1)></noframes>"#,
        #"</p><script>alert(1)</script>"#,
        #"<a href="https://ok.example/">x</a></body><script>alert(1)</script></html><img src=x onerror=alert(1)>"#,
        #"<html><head><script>alert(1)</script></head><body onload=alert(1)><p>after</p></body></html>"#,
        #"<!DOCTYPE html><html><body><img src=x onerror=alert(1)></body></html>"#,
        #"<a href="https://ok.example/" title="&quot;><script>alert(1)</script>">title</a>"#,
        #"<p>&lt;script&gt;alert(1)&lt;/script&gt;</p>"#,
        #"<a href='https://ok.example/"onmouseover="alert(1)'>quote</a>"#,
        #"<a href="mailto:x@example.com?subject=&quot;><script>alert(1)</script>">mail</a>"#,
        "<a href=\"java\u{0}script:alert(1)\">nul</a>",
        "<IMG SRC=\"java\u{0}script:alert('XSS')\">",
    ]
}

/// Markup the sanitiser allows, with the one form it is written in.
enum AllowedExamples {
    static let all: [(String, String)] = [
        ("<p>Hello <strong>world</strong></p>", "<p>Hello <strong>world</strong></p>"),
        ("<ul><li>One</li><li>Two</li></ul><ol><li>First</li></ol>", "<ul><li>One</li><li>Two</li></ul><ol><li>First</li></ol>"),
        (#"<table><thead><tr><th colspan="2">Size</th></tr></thead><tbody><tr><td rowspan="3">S</td><td>36</td></tr></tbody></table>"#,
         #"<table><thead><tr><th colspan="2">Size</th></tr></thead><tbody><tr><td rowspan="3">S</td><td>36</td></tr></tbody></table>"#),
        (#"<table><tr><td colspan=" 3 ">a</td><td colspan="007">b</td><td rowspan="100">c</td><td rowspan="101">d</td><td colspan="0">e</td></tr></table>"#,
         #"<table><tr><td colspan="3">a</td><td colspan="7">b</td><td rowspan="100">c</td><td>d</td><td>e</td></tr></table>"#),
        ("<h2>Care</h2><h3>Wash</h3><h4>Dry</h4>", "<h2>Care</h2><h3>Wash</h3><h4>Dry</h4>"),
        ("<blockquote><p>Quote <em>it</em> <i>i</i> <b>b</b> <u>u</u> <s>s</s></p></blockquote>",
         "<blockquote><p>Quote <em>it</em> <i>i</i> <b>b</b> <u>u</u> <s>s</s></p></blockquote>"),
        (#"<a href="https://example.com/x?a=1&amp;b=2">link</a>"#, #"<a href="https://example.com/x?a=1&amp;b=2" rel="nofollow noopener">link</a>"#),
        (#"<a href="mailto:shop@example.com">mail us</a>"#, #"<a href="mailto:shop@example.com" rel="nofollow noopener">mail us</a>"#),
        (#"<a href="HTTP://EXAMPLE.COM/">upper</a>"#, #"<a href="HTTP://EXAMPLE.COM/" rel="nofollow noopener">upper</a>"#),
        (#"<a href="  https://example.com/my file.pdf ">spaced</a>"#, #"<a href="https://example.com/my%20file.pdf" rel="nofollow noopener">spaced</a>"#),
        (#"<a href="&#x68;ttps://example.com/">encoded</a>"#, #"<a href="https://example.com/" rel="nofollow noopener">encoded</a>"#),
        ("<h1>Title</h1>", "Title"),
        ("<div><span>text</span></div>", "text"),
        ("Caf&eacute; &amp; cr&egrave;me &copy; 2024", "Café &amp; crème © 2024"),
        ("<p>1 &lt; 2 &amp;&amp; 3 &gt; 2</p>", "<p>1 &lt; 2 &amp;&amp; 3 &gt; 2</p>"),
        ("a < b & c > d", "a &lt; b &amp; c &gt; d"),
        ("<p>Unknown &foo; stays text</p>", "<p>Unknown &amp;foo; stays text</p>"),
        ("<p>日本語のテキスト 🧵👗 café</p>", "<p>日本語のテキスト 🧵👗 café</p>"),
        ("Line one<br>Line two<br/>Line three<BR>", "Line one<br>Line two<br>Line three<br>"),
        ("Plain text with a trailing space ", "Plain text with a trailing space"),
        ("<p>a</p>\n<p>b</p>\n", "<p>a</p>\n<p>b</p>"),
        ("<p>x<p>y", "<p>x</p><p>y</p>"),
        ("<b><i>x</b></i>", "<b><i>x</i></b>"),
        ("<P>Upper <STRONG>case</STRONG></P>", "<p>Upper <strong>case</strong></p>"),
    ]
}

/// Fragments of allowed, unknown and dangerous markup strung together at random, unbalanced.
enum TagSoup {
    static let tags = [
        "p", "b", "i", "div", "span", "ul", "ol", "li", "table", "tr", "td colspan=2", "th rowspan=3", "tbody", "thead",
        "h1", "h2", "h3", "h4", #"a href="https://x.example/""#, "a href=javascript:alert(1)", "a", "blockquote", "br",
        "strong", "em", "font", "center", "dl", "dt", "dd", "pre", "form", "select", "option", "script", "s", "u",
        "caption", "colgroup", "col", "tfoot", "body", "html", "head", "title", "img src=x onerror=alert(1)", "hr",
        "section", "label", "code", "q", "object", "noscript", "iframe", "textarea", "button", "fieldset", "menu",
        "style", "xmp", "plaintext", "listing", "svg", "math", "!--", "?x", "![CDATA[", "!DOCTYPE html",
    ]
    static let texts = ["x", "y z", " ", "&amp;", "\n", "<", ">", "&", "-->", "\"", "'", "日本"]

    static func make(using generator: inout SplitMix64) -> String {
        var html = ""
        for _ in 0..<Int.random(in: 1...20, using: &generator) {
            let roll = Int.random(in: 0..<100, using: &generator)
            let tag = tags.randomElement(using: &generator)!
            if roll < 45 {
                html += "<\(tag)>"
            } else if roll < 70 {
                html += "</\(tag.split(separator: " ")[0])>"
            } else {
                html += texts.randomElement(using: &generator)!
            }
        }
        return html
    }
}

/// A small seeded generator, so the soup is the same on every run.
struct SplitMix64: RandomNumberGenerator {
    var state: UInt64

    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

/// The sanitiser's output read back by a strict scanner that knows only the forms the sanitiser
/// writes: `<name>`, `</name>`, `<name attribute="value" ...>`, and text whose only character
/// references are &amp; &lt; &gt; (and &quot; in values). Anything else is reported as a problem:
/// output a browser might read differently from what the sanitiser meant.
struct WrittenHTML {
    struct Attribute: Equatable {
        var name: String
        var value: String
    }

    struct Tag: Equatable {
        var name: String
        var isEnd: Bool
        var attributes: [Attribute]
    }

    private(set) var tags: [Tag] = []
    /// The text between the tags, references decoded.
    private(set) var text = ""
    private(set) var problems: [String] = []
    private(set) var deepestNesting = 0

    private var scalars: [Unicode.Scalar] = []
    private var position = 0
    private var open: [String] = []

    init(_ html: String) {
        scalars = Array(html.unicodeScalars)
        while position < scalars.count, problems.isEmpty {
            let scalar = scalars[position]
            switch scalar {
            case "<":
                readTag()
            case "&":
                if let decoded = readReference(inValue: false) { text.unicodeScalars.append(decoded) }
            case ">":
                problems.append("a bare > in text at \(position)")
            default:
                text.unicodeScalars.append(scalar)
                position += 1
            }
        }
        if problems.isEmpty, !open.isEmpty { problems.append("never closed: \(open)") }
    }

    private func isAt(_ literal: String) -> Bool {
        let wanted = Array(literal.unicodeScalars)
        return position + wanted.count <= scalars.count && Array(scalars[position..<position + wanted.count]) == wanted
    }

    private mutating func readReference(inValue: Bool) -> Unicode.Scalar? {
        var references: [(String, Unicode.Scalar)] = [("&amp;", "&"), ("&lt;", "<"), ("&gt;", ">")]
        if inValue { references.append(("&quot;", "\"")) }
        for (reference, decoded) in references where isAt(reference) {
            position += reference.unicodeScalars.count
            return decoded
        }
        problems.append("an & that starts no reference the sanitiser writes, at \(position)")
        return nil
    }

    private mutating func readName() -> String {
        var name = ""
        while position < scalars.count,
              (0x61...0x7A).contains(scalars[position].value) || (0x30...0x39).contains(scalars[position].value) {
            name.unicodeScalars.append(scalars[position])
            position += 1
        }
        return name
    }

    private mutating func readTag() {
        let start = position
        position += 1
        let isEnd = isAt("/")
        if isEnd { position += 1 }
        let name = readName()
        guard !name.isEmpty else {
            problems.append("a < that starts no tag, at \(start)")
            return
        }
        var attributes: [Attribute] = []
        while !isEnd, isAt(" ") {
            position += 1
            let attributeName = readName()
            guard !attributeName.isEmpty, isAt("=\"") else {
                problems.append("an attribute of <\(name)> not written as name=\"value\", at \(position)")
                return
            }
            position += 2
            var value = ""
            while position < scalars.count, scalars[position] != "\"" {
                switch scalars[position] {
                case "&":
                    guard let decoded = readReference(inValue: true) else { return }
                    value.unicodeScalars.append(decoded)
                case "<", ">":
                    problems.append("a bare \(scalars[position]) in the value of \(attributeName), at \(position)")
                    return
                default:
                    value.unicodeScalars.append(scalars[position])
                    position += 1
                }
            }
            guard position < scalars.count else {
                problems.append("the value of \(attributeName) is never closed")
                return
            }
            position += 1
            attributes.append(Attribute(name: attributeName, value: value))
        }
        guard isAt(">") else {
            problems.append("the tag at \(start) is not closed by >")
            return
        }
        position += 1
        tags.append(Tag(name: name, isEnd: isEnd, attributes: attributes))
        if isEnd {
            if open.last == name {
                open.removeLast()
            } else {
                problems.append("</\(name)> at \(start) closes <\(open.last ?? "nothing")>")
            }
        } else if name != "br" {
            open.append(name)
            deepestNesting = max(deepestNesting, open.count)
        }
    }
}

/// What counts as safe output, checked on the output alone.
enum SafeHTML {
    static let allowedTags: Set<String> = [
        "p", "br", "strong", "b", "em", "i", "u", "s", "ul", "ol", "li", "h2", "h3", "h4",
        "blockquote", "table", "thead", "tbody", "tr", "th", "td", "a",
    ]

    /// Raw markup that must never appear; text is escaped, so "<" here can only open a tag.
    static let forbiddenMarkup = [
        "<script", "<iframe", "<object", "<embed", "<svg", "<style", "<img", "<meta", "<base", "<link",
        "<form", "<input", "<math", "<template", "<noscript", "<textarea", "<frame", "<applet",
    ]

    /// Everything wrong with `output`; [] when it is safe.
    static func problems(in output: String) -> [String] {
        let written = WrittenHTML(output)
        var problems = written.problems
        let lowered = output.lowercased()
        for markup in forbiddenMarkup where lowered.contains(markup) { problems.append("contains \(markup)") }
        // No vector's text spells these; in an attribute they would be a live script.
        for scheme in ["javascript:", "vbscript:"] where lowered.contains(scheme) { problems.append("contains \(scheme)") }
        for tag in written.tags {
            guard allowedTags.contains(tag.name) else {
                problems.append("<\(tag.name)> is not allowed")
                continue
            }
            for attribute in tag.attributes {
                if attribute.name.hasPrefix("on") { problems.append("an event handler: \(attribute.name)") }
                let value = attribute.value.lowercased()
                for scheme in ["javascript:", "vbscript:", "data:"] where value.contains(scheme) {
                    problems.append("\(attribute.name) holds \(scheme)")
                }
            }
            if tag.isEnd { continue }
            switch tag.name {
            case "a":
                guard tag.attributes.map(\.name) == ["href", "rel"] else {
                    problems.append("<a> with attributes \(tag.attributes.map(\.name))")
                    continue
                }
                if !isAllowedLink(tag.attributes[0].value) { problems.append("href=\"\(tag.attributes[0].value)\"") }
                if tag.attributes[1].value != "nofollow noopener" { problems.append("rel=\"\(tag.attributes[1].value)\"") }
            case "td", "th":
                for attribute in tag.attributes {
                    let span = Int(attribute.value) ?? 0
                    if !["colspan", "rowspan"].contains(attribute.name) || !(1...100).contains(span) || String(span) != attribute.value {
                        problems.append("<\(tag.name) \(attribute.name)=\"\(attribute.value)\">")
                    }
                }
            default:
                if !tag.attributes.isEmpty { problems.append("<\(tag.name)> with attributes \(tag.attributes.map(\.name))") }
            }
        }
        return problems
    }

    /// http, https or mailto, with nothing a browser would strip before reading the scheme.
    static func isAllowedLink(_ href: String) -> Bool {
        guard !href.unicodeScalars.contains(where: { $0.value <= 0x20 || (0x7F...0x9F).contains($0.value) }) else { return false }
        let lowered = href.lowercased()
        return ["http:", "https:", "mailto:"].contains { lowered.hasPrefix($0) }
    }
}

/// A fixture body's text, found without the code under test: what lies outside "<...>", with the
/// few named references a CSV body is likely to use decoded. Good enough for the fixtures' plain
/// markup, which is all it is used on.
enum NaiveText {
    static func of(_ html: String) -> String {
        var text = ""
        var inTag = false
        for character in html {
            if inTag {
                if character == ">" { inTag = false }
            } else if character == "<" {
                inTag = true
            } else {
                text.append(character)
            }
        }
        for (reference, decoded) in [("&nbsp;", "\u{A0}"), ("&lt;", "<"), ("&gt;", ">"), ("&quot;", "\""), ("&#39;", "'"), ("&amp;", "&")] {
            text = text.replacingOccurrences(of: reference, with: decoded)
        }
        return text
    }
}
