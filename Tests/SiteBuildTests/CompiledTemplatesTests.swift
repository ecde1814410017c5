import Foundation
import Mustache
@testable import SiteBuild
import Testing

/// The build renders pages with its own compiled templates (CompiledTemplates.swift), not with
/// swift-mustache. These cases follow the Mustache spec's own (interpolation, sections, inverted,
/// comments, partials, delimiters, inheritance); each is checked against the spec's expected text
/// and against swift-mustache rendering the same template and data, so the two cannot drift apart.
@Suite("Compiled templates: the Mustache spec, and the same output as swift-mustache")
struct CompiledTemplatesTests {
    struct Case: CustomTestStringConvertible, Sendable {
        let name: String
        let template: String
        let data: [String: any Sendable]
        var partials: [String: String] = [:]
        let expected: String
        var testDescription: String { name }
    }

    static let cases: [Case] = [
        // Interpolation
        Case(name: "no tags", template: "Hello from {Mustache}!\n", data: [:], expected: "Hello from {Mustache}!\n"),
        Case(name: "basic", template: "Hello, {{subject}}!", data: ["subject": "world"], expected: "Hello, world!"),
        Case(name: "HTML escaping", template: "{{x}}|{{{x}}}|{{&x}}", data: ["x": "& \" < > '"],
             expected: "&amp; &quot; &lt; &gt; &#39;|& \" < > '|& \" < > '"),
        Case(name: "integers and booleans", template: "{{n}} {{b}}", data: ["n": 85, "b": true], expected: "85 true"),
        Case(name: "missing names render nothing", template: "I ({{cannot}}) be seen!", data: [:], expected: "I () be seen!"),
        Case(name: "dotted names", template: "{{person.name}} {{a.b.c}}", data: ["person": ["name": "Joe"], "a": ["b": ["c": "deep"]]],
             expected: "Joe deep"),
        Case(name: "a dotted name is not looked up further out once its first part is found",
             template: "{{#a}}{{b.c}}{{/a}}", data: ["a": ["b": [String: String]()], "b": ["c": "ERROR"]], expected: ""),
        Case(name: "context climbing", template: "{{#a}}{{#b}}{{c}}{{/b}}{{/a}}", data: ["a": ["b": ["x": 1]], "c": "outer"], expected: "outer"),
        Case(name: "surrounding whitespace is kept", template: "| {{string}} |", data: ["string": "---"], expected: "| --- |"),
        Case(name: "interpolation is never standalone", template: "  {{string}}\n", data: ["string": "---"], expected: "  ---\n"),
        Case(name: "padding inside the tag", template: "|{{ string }}|{{{ string }}}|{{& string }}|", data: ["string": "---"],
             expected: "|---|---|---|"),

        // Sections
        Case(name: "truthy section", template: "\"{{#boolean}}This should be rendered.{{/boolean}}\"", data: ["boolean": true],
             expected: "\"This should be rendered.\""),
        Case(name: "falsey section", template: "\"{{#boolean}}This should not be rendered.{{/boolean}}\"", data: ["boolean": false],
             expected: "\"\""),
        Case(name: "object section", template: "\"{{#context}}Hi {{name}}.{{/context}}\"", data: ["context": ["name": "Joe"]],
             expected: "\"Hi Joe.\""),
        Case(name: "list section", template: "\"{{#list}}{{item}}{{/list}}\"",
             data: ["list": [["item": 1], ["item": 2], ["item": 3]]], expected: "\"123\""),
        Case(name: "empty list", template: "\"{{#list}}Yay lists!{{/list}}\"", data: ["list": [String]()], expected: "\"\""),
        Case(name: "implicit iterator", template: "\"{{#list}}({{.}}){{/list}}\"", data: ["list": ["a", "b", "<c>"]],
             expected: "\"(a)(b)(&lt;c&gt;)\""),
        Case(name: "a text value opens its section with itself as the item", template: "{{#s}}<{{.}}>{{/s}}", data: ["s": "x"],
             expected: "<x>"),
        Case(name: "an empty string and zero are true (swift-mustache's reading)", template: "{{#s}}S{{/s}}{{#n}}N{{/n}}",
             data: ["s": "", "n": 0], expected: "SN"),
        Case(name: "nested sections", template: "{{#a}}{{#b}}{{#c}}{{d}}{{/c}}{{/b}}{{/a}}",
             data: ["a": ["b": ["c": ["d": "deep"]]]], expected: "deep"),
        Case(name: "dotted section names", template: "{{#a.b.c}}Here{{/a.b.c}}{{^a.b.x}}Missing{{/a.b.x}}",
             data: ["a": ["b": ["c": true]]], expected: "HereMissing"),
        Case(name: "standalone section lines are removed", template: "| This Is\n{{#boolean}}\n|\n{{/boolean}}\n| A Line\n",
             data: ["boolean": true], expected: "| This Is\n|\n| A Line\n"),
        Case(name: "indented standalone lines are removed", template: "| This Is\n  {{#boolean}}\n|\n  {{/boolean}}\n| A Line\n",
             data: ["boolean": true], expected: "| This Is\n|\n| A Line\n"),
        Case(name: "CRLF standalone lines", template: "|\r\n{{#boolean}}\r\n{{/boolean}}\r\n|", data: ["boolean": true],
             expected: "|\r\n|"),
        Case(name: "standalone without a newline at the end", template: "#{{#boolean}}\n/\n  {{/boolean}}", data: ["boolean": true],
             expected: "#\n/\n"),
        Case(name: "standalone without a previous line", template: "  {{#boolean}}\n#{{/boolean}}\n/", data: ["boolean": true],
             expected: "#\n/"),
        Case(name: "inline sections keep their whitespace", template: " {{#boolean}}YES{{/boolean}}\n {{#boolean}}GOOD{{/boolean}}\n",
             data: ["boolean": true], expected: " YES\n GOOD\n"),

        // Inverted
        Case(name: "inverted falsey", template: "\"{{^boolean}}This should be rendered.{{/boolean}}\"", data: ["boolean": false],
             expected: "\"This should be rendered.\""),
        Case(name: "inverted truthy", template: "\"{{^boolean}}This should not be rendered.{{/boolean}}\"", data: ["boolean": true],
             expected: "\"\""),
        Case(name: "inverted empty list and missing", template: "{{^list}}E{{/list}}{{^nothing}}M{{/nothing}}",
             data: ["list": [String]()], expected: "EM"),

        // Comments and delimiters
        Case(name: "inline comment", template: "12345{{! Comment Block! }}67890", data: [:], expected: "1234567890"),
        Case(name: "multi-line standalone comment", template: "Begin.\n{{!\nSomething's going on here...\n}}\nEnd.\n", data: [:],
             expected: "Begin.\nEnd.\n"),
        Case(name: "set delimiters", template: "{{=<% %>=}}(<%text%>)", data: ["text": "Hey!"], expected: "(Hey!)"),
        Case(name: "delimiters apply to sections", template: "[\n{{#section}}\n  {{data}}\n  |data|\n{{/section}}\n{{= | | =}}\n|#section|\n  {{data}}\n  |data|\n|/section|\n]\n",
             data: ["section": true, "data": "I got interpolated."],
             expected: "[\n  I got interpolated.\n  |data|\n  {{data}}\n  I got interpolated.\n]\n"),

        // Partials
        Case(name: "partial", template: "\"{{>text}}\"", data: [:], partials: ["text": "from partial"], expected: "\"from partial\""),
        Case(name: "partial sees the context", template: "\"{{>partial}}\"", data: ["text": "content"],
             partials: ["partial": "*{{text}}*"], expected: "\"*content*\""),
        Case(name: "recursive partial", template: "{{>node}}", data: ["content": "X", "nodes": [["content": "Y", "nodes": [[String: String]]()] as [String: any Sendable]]],
             partials: ["node": "{{content}}<{{#nodes}}{{>node}}{{/nodes}}>"], expected: "X<Y<>>"),
        Case(name: "standalone partial is indented", template: "\\\n {{>partial}}\n/\n", data: ["content": "<\n->"],
             partials: ["partial": "|\n{{{content}}}\n|\n"], expected: "\\\n |\n <\n->\n |\n/\n"),

        // Inheritance
        Case(name: "default block content", template: "{{$title}}Default title{{/title}}", data: [:], expected: "Default title"),
        Case(name: "a child fills its parent's block", template: "{{<parent}}{{$ballmer}}peaked{{/ballmer}}{{/parent}}", data: [:],
             partials: ["parent": "{{$ballmer}}peaking{{/ballmer}}"], expected: "peaked"),
        Case(name: "blocks the child leaves keep their default", template: "{{<parent}}{{$a}}A{{/a}}{{/parent}}", data: [:],
             partials: ["parent": "{{$a}}-{{/a}}|{{$b}}default b{{/b}}"], expected: "A|default b"),
        Case(name: "block content sees the context", template: "{{<parent}}{{$b}}{{name}}{{/b}}{{/parent}}", data: ["name": "Joe"],
             partials: ["parent": "<{{$b}}{{/b}}>"], expected: "<Joe>"),
        Case(name: "the outermost child wins through two parents", template: "{{<middle}}{{$a}}child{{/a}}{{/middle}}", data: [:],
             partials: ["middle": "{{<grand}}{{$a}}middle{{/a}}{{/grand}}", "grand": "[{{$a}}grand{{/a}}]"], expected: "[child]"),
        Case(name: "a page as the default theme writes one", template: """
            {{! a comment }}
            {{<base}}
            {{$title}}{{page.title}}{{/title}}
            {{$main}}
            <p>{{body}}</p>
            {{/main}}
            {{/base}}

            """, data: ["page": ["title": "T & C"], "body": "B"],
             partials: ["base": "<title>{{$title}}Site{{/title}}</title>\n<main>\n{{$main}}\n{{/main}}\n</main>\n"],
             expected: "<title>T &amp; C</title>\n<main>\n<p>B</p>\n</main>\n"),
    ]

    static func compiled(_ testCase: Case) throws -> CompiledTemplates {
        var templates = CompiledTemplates()
        try templates.add(testCase.template, named: "__test__", file: "__test__.mustache")
        for (name, text) in testCase.partials { try templates.add(text, named: name, file: "\(name).mustache") }
        return templates
    }

    @Test("renders as the spec says", arguments: cases)
    func spec(_ testCase: Case) throws {
        let output = try #require(Self.compiled(testCase).render("__test__", context: TemplateValue(any: testCase.data)))
        #expect(String(decoding: output, as: UTF8.self) == testCase.expected)
    }

    @Test("renders as swift-mustache does", arguments: cases)
    func sameAsSwiftMustache(_ testCase: Case) throws {
        var library = MustacheLibrary()
        library.register(try MustacheTemplate(string: testCase.template), named: "__test__")
        for (name, text) in testCase.partials { library.register(try MustacheTemplate(string: text), named: name) }
        let theirs = try #require(library.render(testCase.data, withTemplate: "__test__"))
        let ours = try #require(Self.compiled(testCase).render("__test__", context: TemplateValue(any: testCase.data)))
        #expect(String(decoding: ours, as: UTF8.self) == theirs)
    }

    @Test("a template that includes itself without end stops, and the build goes on")
    func endlessPartial() throws {
        var templates = CompiledTemplates()
        try templates.add("x{{>loop}}", named: "loop", file: "loop.mustache")
        let output = try #require(templates.render("loop", context: [:]))
        #expect(output.count == 65)
    }

    @Test("mistakes are build errors naming the file and line", arguments: [
        ("a\n{{#open}}\nnever closed\n", 2, "is never closed"),
        ("a\nb {{/nothing}}\n", 2, "closes a section that is not open"),
        ("{{#a}}\n{{/b}}\n", 2, "closes a section that is not open"),
        ("\n\n{{uppercased(title)}}", 3, "transforms"),
        ("x {{ unclosed", 1, "not closed"),
        ("{{=<%=}}", 1, "set-delimiter"),
    ])
    func errors(_ text: String, _ line: Int, _ message: String) {
        var templates = CompiledTemplates()
        do {
            try templates.add(text, named: "bad", file: "layouts/bad.mustache")
            Issue.record("no error for \(text.debugDescription)")
        } catch let error as BuildError {
            #expect(error.stage == .theme)
            #expect(error.file == "layouts/bad.mustache")
            #expect(error.line == line)
            #expect(error.message.contains(message), "\(error.message)")
        } catch {
            Issue.record("unexpected error \(error)")
        }
    }
}
