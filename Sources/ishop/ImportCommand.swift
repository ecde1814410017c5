import ArgumentParser
import Foundation
import ShopImport

struct ImportCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "import",
        abstract: "Import a catalog into the shop's database.",
        subcommands: [ShopifyImport.self]
    )
}

struct ShopifyImport: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "shopify",
        abstract: "Import Shopify product CSV files (Shopify admin: Products > Export).",
        discussion: """
            Products are matched by Handle and variants by SKU, so importing the same file again \
            changes nothing. Every file is checked before anything is written, and everything is \
            written in one transaction: a bad row anywhere imports nothing, and the error names \
            the file, line, column and value.
            """
    )

    @OptionGroup var site: SiteOptions

    @Argument(help: ArgumentHelp("Shopify product CSV files.", valueName: "file"))
    var files: [String]

    func run() async throws {
        _ = LogSetup.bootstrap
        try await reportingErrors {
            let config = try site.loadConfig()
            let store = try await site.openStore(config)
            let progress = TerminalProgress()
            do {
                let importer = ShopifyImporter(store: store, currency: config.currency)
                let summary = try await importer.importFiles(files) { step in
                    progress.update("\(step.pass == .checking ? "Checking" : "Writing") \(step.file): \(step.rows) rows")
                }
                progress.finish()
                print(summary.description)
                try await store.close()
            } catch {
                progress.finish()
                try? await store.close()
                throw error
            }
        }
    }
}
