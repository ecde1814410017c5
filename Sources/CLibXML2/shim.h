#ifndef ISHOP_CLIBXML2_SHIM_H
#define ISHOP_CLIBXML2_SHIM_H

// libxml2's HTML parser for HTMLSanitizer (ShopImport). The parser setup lives here, in C,
// because Swift cannot write libxml2's variadic error callbacks and would have to touch its
// mutable globals (xmlFree, the error handlers), which strict concurrency rightly refuses.

#include <libxml/xmlversion.h>
// Debian builds libxml2 with ICU, and its encoding.h then includes the system's ICU headers,
// which clash with the ICU copy inside Swift's Foundation ("UErrorCode is not present in ...").
// ishop never touches what ICU adds (two trailing pointers of xmlCharEncodingHandler, used by
// libxml2 itself), so the switch is turned off for this module's view of the headers only.
#undef LIBXML_ICU_ENABLED
#include <libxml/HTMLparser.h>
#include <libxml/tree.h>
#include <libxml/xmlerror.h>
#include <libxml/globals.h>
#include <libxml/parser.h>

// NONET: never fetch anything named by the input. NOERROR/NOWARNING: a stranger's broken markup
// is normal, not news for the terminal. IGNORE_ENC: the bytes are always UTF-8 (they come from a
// Swift String); a <meta charset> in the input must not switch the decoder. No NOBLANKS: it drops
// whitespace between words and tags ("<b>a</b> <i>b</i>"). No XML_PARSE_HUGE either: its absence
// keeps libxml2's own bounds (256 levels of nesting, 10 MB per text node), and a description
// nested deeper than that is an attack, not a product.
static const int ISHOP_HTML_PARSE_OPTIONS =
    HTML_PARSE_RECOVER | HTML_PARSE_NONET | HTML_PARSE_NOERROR | HTML_PARSE_NOWARNING |
    HTML_PARSE_NODEFDTD | HTML_PARSE_IGNORE_ENC;

static inline void ishop_xml_ignore_message(void *context, const char *message, ...) {
    (void)context;
    (void)message;
}

// Once per process, before any parse: xmlInitParser is the one libxml2 call that is not safe to
// race. New threads copy the "thread default" error handler, so it is set here too.
static inline void ishop_xml_initialize(void) {
    xmlInitParser();
    xmlThrDefSetGenericErrorFunc(NULL, ishop_xml_ignore_message);
    xmlSetGenericErrorFunc(NULL, ishop_xml_ignore_message);
}

// Parses `length` bytes of UTF-8 HTML into a new document (free it with xmlFreeDoc), or NULL.
// Each call has its own parser context, so calls on different threads share nothing.
// libxml2's generic error handler is per thread: a thread that used libxml2 before
// ishop_xml_initialize ran keeps its old one, so it is silenced again here (a cheap store to the
// calling thread's own state).
static inline xmlDocPtr ishop_html_parse(const char *bytes, int length) {
    xmlSetGenericErrorFunc(NULL, ishop_xml_ignore_message);
    htmlParserCtxtPtr context = htmlNewParserCtxt();
    if (context == NULL) return NULL;
    xmlDocPtr document = htmlCtxtReadMemory(context, bytes, length, NULL, "UTF-8", ISHOP_HTML_PARSE_OPTIONS);
    htmlFreeParserCtxt(context);
    return document;
}

#endif
