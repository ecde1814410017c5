import CMarkGFM
import Foundation
import Synchronization

/// GitHub-flavoured Markdown to HTML with cmark-gfm: tables, strikethrough, autolinks, task lists.
///
/// Raw HTML in Markdown is omitted and dangerous link schemes (javascript:, vbscript:, data:
/// other than images) are dropped, as Hugo does by default: content/ may come from many hands.
public enum Markdown {
    /// The extension registry in cmark-gfm is a global without a lock: register once, first.
    private static let registerExtensions: Void = { cmark_gfm_core_extensions_ensure_registered() }()
    static let extensionNames = ["table", "strikethrough", "autolink", "tasklist"]

    /// One parse at a time in the process: cmark-gfm's inline parser turns its extensions'
    /// special characters (strikethrough's `~`) on in a global table when a parse starts and off
    /// when it ends (`cmark_manage_extensions_special_characters`), so a parse that ends while
    /// another runs makes the other miss them: `~~€45.00~~` came out unstruck, now and then,
    /// when tests built several shops at once. Content pages are few; the lock costs nothing.
    private static let oneParseAtATime = Mutex(())

    public static func html(_ markdown: String) -> String {
        oneParseAtATime.withLock { _ in render(markdown) }
    }

    private static func render(_ markdown: String) -> String {
        _ = registerExtensions
        let options = CMARK_OPT_DEFAULT | CMARK_OPT_GITHUB_PRE_LANG
        guard let parser = cmark_parser_new(options) else { return "" }
        defer { cmark_parser_free(parser) }
        for name in extensionNames {
            if let syntaxExtension = cmark_find_syntax_extension(name) {
                cmark_parser_attach_syntax_extension(parser, syntaxExtension)
            }
        }
        var source = markdown
        source.withUTF8 { bytes in
            bytes.withMemoryRebound(to: CChar.self) { cmark_parser_feed(parser, $0.baseAddress, bytes.count) }
        }
        guard let document = cmark_parser_finish(parser) else { return "" }
        defer { cmark_node_free(document) }
        guard let rendered = cmark_render_html(document, options, cmark_parser_get_syntax_extensions(parser)) else { return "" }
        defer { free(rendered) }
        return String(cString: rendered)
    }
}
