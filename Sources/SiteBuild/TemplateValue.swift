/// A value a theme template can show: what `PageModels` builds for each page.
///
/// Typed, not `Any`: a lookup in a page's context is one dictionary probe, where swift-mustache's
/// `[String: Any]` contexts cost several dynamic casts and a string split per tag, which was over
/// half of a full build's time (docs/benchmarks.md).
enum TemplateValue: Sendable {
    /// Text; `{{name}}` escapes it for HTML, `{{{name}}}` inserts it as it is.
    case text(String)
    case number(Int)
    case flag(Bool)
    case list([TemplateValue])
    case fields([String: TemplateValue])

    /// From the `[String: Any]` of code outside the build (ImageSet.templateData, tests): strings,
    /// booleans, integers, and arrays and dictionaries of them. Anything else shows as its description.
    init(any value: Any) {
        switch value {
        case let value as TemplateValue: self = value
        case let text as String: self = .text(text)
        case let flag as Bool: self = .flag(flag)
        case let number as Int: self = .number(number)
        case let fields as [String: TemplateValue]: self = .fields(fields)
        case let fields as [String: Any]: self = .fields(fields.mapValues { TemplateValue(any: $0) })
        case let list as [TemplateValue]: self = .list(list)
        case let list as [Any]: self = .list(list.map { TemplateValue(any: $0) })
        default: self = .text(String(describing: value))
        }
    }

    /// The fields of a `.fields` value (empty for anything else).
    var fields: [String: TemplateValue] {
        if case .fields(let fields) = self { return fields }
        return [:]
    }
}

extension TemplateValue: ExpressibleByStringLiteral, ExpressibleByStringInterpolation {
    init(stringLiteral value: String) { self = .text(value) }
}

extension TemplateValue: ExpressibleByBooleanLiteral {
    init(booleanLiteral value: Bool) { self = .flag(value) }
}

extension TemplateValue: ExpressibleByIntegerLiteral {
    init(integerLiteral value: Int) { self = .number(value) }
}

extension TemplateValue: ExpressibleByArrayLiteral {
    init(arrayLiteral elements: TemplateValue...) { self = .list(elements) }
}

extension TemplateValue: ExpressibleByDictionaryLiteral {
    init(dictionaryLiteral elements: (String, TemplateValue)...) {
        self = .fields(Dictionary(elements, uniquingKeysWith: { _, last in last }))
    }
}
