import Foundation
#if canImport(FoundationXML)
import FoundationXML
#endif
import ShopCore
import ShopSystem
import SiteBuild

/// 2023-11-14 (UTC): builds dated this day write it into sitemaps, feeds and the footer.
let fixedBuildDate = Date(timeIntervalSince1970: 1_700_000_000)

extension ExampleShop {
    /// A build dated `fixedBuildDate`, with a sitemap limit when given.
    func buildOnFixedDate(
        sitemapLimit: Int? = nil, jobs: Int? = nil, into folder: String? = nil, precompress: Bool? = nil, sync: Bool = true,
        outputs: SiteConfig.Outputs? = nil
    ) async throws -> SiteBuilder.Report {
        var config = config
        if let precompress { config.precompress = precompress }
        if let outputs { config.outputs = outputs }
        var builder = SiteBuilder(config: config, store: store)
        builder.buildDate = fixedBuildDate
        if let sitemapLimit { builder.sitemapLimit = sitemapLimit }
        if let jobs { builder.jobs = jobs }
        builder.syncBeforePublish = sync
        return try await builder.build(outputDirectory: folder ?? output)
    }
}

/// What the system's gzip decompresses `path` to (an implementation independent of ours); nil
/// when it fails.
func gunzipped(_ path: String) -> Data? {
    guard let finished = try? ChildProcess.run("/bin/gzip", arguments: ["-dc", path]), finished.termination.succeeded else {
        return nil
    }
    return Data(finished.output)
}

/// How often `needle` occurs in `text` (non-overlapping).
func occurrences(of needle: String, in text: String) -> Int {
    text.components(separatedBy: needle).count - 1
}

/// One element of a parsed XML document. Names keep their prefix as written ("g:price").
final class ParsedElement {
    let name: String
    let attributes: [String: String]
    var text = ""
    var children: [ParsedElement] = []

    init(name: String, attributes: [String: String]) {
        self.name = name
        self.attributes = attributes
    }

    func elements(named name: String) -> [ParsedElement] { children.filter { $0.name == name } }

    func element(named name: String) -> ParsedElement? { children.first { $0.name == name } }

    /// The text of the first child called `name`, if there is one.
    func value(of name: String) -> String? { element(named: name)?.text }
}

/// Reads a document with Foundation's XMLParser (libxml2 underneath): the root element, or the
/// parser's complaint. Foundation's parser recovers from some errors, so any error it reports
/// counts as a failure, even when it finishes.
final class XMLTreeReader: NSObject, XMLParserDelegate {
    private var stack: [ParsedElement] = []
    private var root: ParsedElement?
    private var problem: String?

    static func read(_ text: String) -> Result<ParsedElement, XMLProblem> {
        let reader = XMLTreeReader()
        let parser = XMLParser(data: Data(text.utf8))
        parser.delegate = reader
        let finished = parser.parse()
        if let problem = reader.problem { return .failure(XMLProblem(message: problem)) }
        if !finished {
            let reason = parser.parserError.map { String(describing: $0) } ?? "the parser stopped"
            return .failure(XMLProblem(message: reason))
        }
        guard let root = reader.root else { return .failure(XMLProblem(message: "no root element")) }
        return .success(root)
    }

    func parser(_ parser: XMLParser, didStartElement elementName: String, namespaceURI: String?,
                qualifiedName qName: String?, attributes attributeDict: [String: String] = [:]) {
        let node = ParsedElement(name: elementName, attributes: attributeDict)
        if let parent = stack.last { parent.children.append(node) } else { root = node }
        stack.append(node)
    }

    func parser(_ parser: XMLParser, didEndElement elementName: String, namespaceURI: String?, qualifiedName qName: String?) {
        _ = stack.popLast()
    }

    func parser(_ parser: XMLParser, foundCharacters string: String) {
        stack.last?.text += string
    }

    func parser(_ parser: XMLParser, parseErrorOccurred parseError: any Error) {
        if problem == nil { problem = "line \(parser.lineNumber): \(parseError)" }
    }
}

struct XMLProblem: Error, CustomStringConvertible {
    var message: String
    var description: String { message }
}

/// The JSON inside a page's `<script type="application/ld+json">`, if it has one.
func structuredData(in html: String) -> String? {
    guard let start = html.range(of: "<script type=\"application/ld+json\">") else { return nil }
    guard let end = html.range(of: "</script>", range: start.upperBound..<html.endIndex) else { return nil }
    return String(html[start.upperBound..<end.lowerBound])
}

/// The page written for `url` (absolute, under the example's base URL): ".../x/" is "x/index.html".
func outputFile(forURL url: String, base: String) -> String? {
    guard url.hasPrefix(base), let path = String(url.dropFirst(base.count)).removingPercentEncoding else { return nil }
    return path.isEmpty || path.hasSuffix("/") ? path + "index.html" : path
}

/// Script elements in a page other than the theme's live stock script (`js/stock.js`, which the
/// build writes itself with a fingerprinted path): catalog text must never add any.
func foreignScripts(in html: String, closing: Bool = false) -> Int {
    let own = occurrences(of: #"<script type="module" src="/js/stock."#, in: html.lowercased())
    return occurrences(of: closing ? "</script>" : "<script", in: html.lowercased()) - own
}
