import ArgumentParser
import Foundation
import ShopCore
import ShopImport

struct ExportCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "export",
        abstract: "Export the shop's catalog.",
        subcommands: [ShopifyExport.self]
    )
}

struct ShopifyExport: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "shopify",
        abstract: "Write the catalog as a Shopify product CSV (Shopify admin: Products > Import).",
        discussion: """
            Writes every product, drafts included (Published false), in the layout of Shopify's own \
            export, so the file is a complete backup: `ishop import shopify` of it gives back the \
            same catalog. Without --out the CSV goes to standard output and the summary to standard \
            error, so it can be piped. With --out the file is replaced in one step: a failed export \
            leaves the old file as it was.
            """
    )

    @OptionGroup var site: SiteOptions

    @Option(name: .long, help: ArgumentHelp("Write the CSV to this file (default: standard output; - says so too).", valueName: "file"))
    var out: String?

    // Drafts are in by default: this is a backup and migration tool, and Shopify's export has them too.
    @Flag(name: .long, help: "Leave out drafts (unpublished products).")
    var publishedOnly = false

    func run() async throws {
        _ = LogSetup.bootstrap
        try await reportingErrors {
            let config = try site.loadConfig()
            let store = try await site.openStore(config)
            let products: [Product]
            do {
                products = try await store.catalog(includeUnpublished: !publishedOnly)
                try await store.close()
            } catch {
                try? await store.close()
                throw error
            }
            let exporter = ShopifyExporter(currency: config.currency)
            let summary: ShopifyExporter.Summary
            let destination: String
            if let out, out != "-" {
                summary = try exporter.writeFile(products, to: URL(fileURLWithPath: out).standardizedFileURL.path)
                destination = out
            } else {
                summary = try exporter.write(products, toDescriptor: STDOUT_FILENO, named: "standard output")
                destination = "standard output"
            }
            // Standard error, so that standard output carries the CSV alone.
            FileHandle.standardError.write(Data("\(summary.description) to \(destination)\n".utf8))
        }
    }
}
