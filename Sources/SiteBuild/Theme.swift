import Foundation
import Mustache
import ShopCore

/// A theme's templates and static files, with the site's own overriding the theme's by name
/// (Hugo's lookup order): `layouts/NAME.mustache` beats `themes/<theme>/layouts/NAME.mustache`,
/// and `static/PATH` beats `themes/<theme>/static/PATH`.
public struct Theme: Sendable {
    /// `header` and `footer` are rendered once per build and put into every page (`fragments`).
    public static let requiredTemplates = [
        "base", "home", "product", "page", "404", "collection", "collections", "header", "footer",
    ]

    /// The templates pages are rendered from (CompiledTemplates.swift says why). swift-mustache
    /// parses each one first, as the judge of valid Mustache with its file:line messages; its
    /// parse is not kept (nothing renders with it but the tests, as an oracle).
    let compiled: CompiledTemplates
    /// Where each template came from, for messages.
    public let templateFiles: [String: String]
    /// Each template's text as it was read and compiled: the build's digests take these, so a
    /// template edited while a build runs cannot pair old pages with a new digest.
    public let templateTexts: [String: String]
    /// Output path (relative, "/"-separated) -> source file; site files already win.
    public let staticFiles: [String: String]

    public static func load(config: SiteConfig) throws -> Theme {
        let themeRoot = config.resolve("\(config.themesDir)/\(config.theme)")
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: themeRoot, isDirectory: &isDirectory), isDirectory.boolValue else {
            throw BuildError(.theme, file: themeRoot, "theme \"\(config.theme)\" does not exist (set theme: in site.yml)")
        }
        var sources: [String: String] = [:]
        for (name, path) in try files(in: "\(themeRoot)/layouts", withExtension: "mustache") { sources[name] = path }
        for (name, path) in try files(in: config.resolve("layouts"), withExtension: "mustache") { sources[name] = path }

        _ = HTMLEscaping.registered
        var compiled = CompiledTemplates()
        var texts: [String: String] = [:]
        for (name, path) in sources.sorted(by: { $0.key < $1.key }) {
            guard let data = FileManager.default.contents(atPath: path), let text = String(data: data, encoding: .utf8) else {
                throw BuildError(.theme, file: path, "cannot be read as UTF-8 text")
            }
            texts[name] = text
            do {
                // On a line of its own (a standalone tag leaves no trace in the output) before the
                // file's first line; errors count lines from the file's own first line.
                _ = try MustacheTemplate(string: HTMLEscaping.pragma + "\n" + text)
            } catch let error as MustacheTemplate.ParserError {
                let near = error.context.line.trimmingCharacters(in: .whitespaces)
                throw BuildError(.theme, file: path, line: max(1, error.context.lineNumber - 1),
                                 "Mustache syntax error: \(describe(error.error)) near \"\(near)\"")
            }
            try compiled.add(text, named: name, file: path)
            for reference in TemplateReference.scan(text) where sources[reference.name] == nil {
                let tag = reference.kind == .partial ? "{{> \(reference.name)}}" : "{{<\(reference.name)}}"
                throw BuildError(.theme, file: path, line: reference.line, """
                    \(tag) names a template that does not exist: neither the site's layouts/ nor the theme's \
                    has \(reference.name).mustache
                    """)
            }
        }
        for name in requiredTemplates where sources[name] == nil {
            throw BuildError(.theme, file: "\(themeRoot)/layouts", "the theme has no \(name).mustache, which every shop needs")
        }

        var staticFiles: [String: String] = [:]
        for (name, path) in try files(in: "\(themeRoot)/static", withExtension: nil) { staticFiles[name] = path }
        for (name, path) in try files(in: config.resolve("static"), withExtension: nil) { staticFiles[name] = path }
        return Theme(compiled: compiled, templateFiles: sources, templateTexts: texts, staticFiles: staticFiles)
    }

    /// Regular files under `directory`, keyed by relative path (without `ext` when given).
    static func files(in directory: String, withExtension ext: String?) throws -> [String: String] {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: directory, isDirectory: &isDirectory), isDirectory.boolValue else { return [:] }
        guard let enumerator = FileManager.default.enumerator(atPath: directory) else { return [:] }
        var result: [String: String] = [:]
        while let relative = enumerator.nextObject() as? String {
            let path = "\(directory)/\(relative)"
            guard let attributes = try? FileManager.default.attributesOfItem(atPath: path),
                  attributes[.type] as? FileAttributeType == .typeRegular
            else { continue }
            if let ext {
                guard relative.hasSuffix(".\(ext)") else { continue }
                result[String(relative.dropLast(ext.count + 1))] = path
            } else {
                result[relative] = path
            }
        }
        return result
    }

    static func describe(_ error: Error) -> String {
        switch error as? MustacheTemplate.Error {
        case .sectionCloseNameIncorrect: "a closing tag does not match its section"
        case .unfinishedName: "a tag is not closed with }}"
        case .expectedSectionEnd: "a section is never closed"
        case .invalidSetDelimiter: "invalid set-delimiter tag"
        case .transformAppliedToInheritanceSection: "a transform is applied to an inheritance section"
        case .illegalTokenInsideInheritSection: "only {{$block}} sections may stand inside {{<parent}}"
        case .textInsideInheritSection: "text inside {{<parent}} outside any {{$block}}"
        default: "\(error)"
        }
    }

    /// Renders `template` into the page's bytes; a template that is missing is a build error, not an empty page.
    func render(_ context: TemplateValue, template: String) throws -> [UInt8] {
        guard let output = compiled.render(template, context: context) else {
            throw BuildError(.render, "the theme has no template named \(template)")
        }
        return output
    }

    /// The same, as text (fragments and cards, which pages take in as they are).
    func renderText(_ context: TemplateValue, template: String) throws -> String {
        String(decoding: try render(context, template: template), as: UTF8.self)
    }

    /// Renders `template` with a context of plain Swift values (strings, booleans, integers, and
    /// arrays and dictionaries of them), the way a page is rendered.
    public func render(_ context: [String: Any], template: String) throws -> String {
        try renderText(TemplateValue(any: context), template: template)
    }
}

/// HTML escaping for `{{value}}`, the same as swift-mustache's own (`&`, `<`, `>`, `"`, `'` become
/// entities) but over UTF-8 bytes, with nothing copied when there is nothing to escape: its own
/// goes character by character through a dictionary, and was a tenth of a build. Every theme
/// template gets it through a CONTENT_TYPE pragma put before its first line.
struct HTMLEscaping: MustacheContentType {
    static let name = "ishop-html"
    static let pragma = "{{% CONTENT_TYPE: \(name)}}"
    static let registered: Void = MustacheContentTypes.register(HTMLEscaping(), named: name)

    func escapeText(_ text: String) -> String {
        Self.escape(text)
    }

    static func escape(_ text: String) -> String {
        let utf8 = text.utf8
        guard utf8.contains(where: { $0 == 0x26 || $0 == 0x3C || $0 == 0x3E || $0 == 0x22 || $0 == 0x27 }) else { return text }
        var escaped: [UInt8] = []
        escaped.reserveCapacity(utf8.count + 32)
        for byte in utf8 {
            switch byte {
            case 0x26: escaped.append(contentsOf: [0x26, 0x61, 0x6D, 0x70, 0x3B])  // &amp;
            case 0x3C: escaped.append(contentsOf: [0x26, 0x6C, 0x74, 0x3B])  // &lt;
            case 0x3E: escaped.append(contentsOf: [0x26, 0x67, 0x74, 0x3B])  // &gt;
            case 0x22: escaped.append(contentsOf: [0x26, 0x71, 0x75, 0x6F, 0x74, 0x3B])  // &quot;
            case 0x27: escaped.append(contentsOf: [0x26, 0x23, 0x33, 0x39, 0x3B])  // &#39;
            default: escaped.append(byte)
            }
        }
        return String(decoding: escaped, as: UTF8.self)
    }
}
