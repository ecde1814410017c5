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

    public let library: MustacheLibrary
    /// Where each template came from, for messages.
    public let templateFiles: [String: String]
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

        var library = MustacheLibrary()
        for (name, path) in sources.sorted(by: { $0.key < $1.key }) {
            guard let data = FileManager.default.contents(atPath: path), let text = String(data: data, encoding: .utf8) else {
                throw BuildError(.theme, file: path, "cannot be read as UTF-8 text")
            }
            do {
                library.register(try MustacheTemplate(string: text), named: name)
            } catch let error as MustacheTemplate.ParserError {
                throw BuildError(.theme, file: path, line: error.context.lineNumber,
                                 "Mustache syntax error: \(describe(error.error)) near \"\(error.context.line.trimmingCharacters(in: .whitespaces))\"")
            }
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
        return Theme(library: library, templateFiles: sources, staticFiles: staticFiles)
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

    /// Renders `template`; a template that is missing is a build error, not an empty page.
    public func render(_ context: [String: Any], template: String) throws -> String {
        guard let output = library.render(context, withTemplate: template) else {
            throw BuildError(.render, "the theme has no template named \(template)")
        }
        return output
    }
}
