import ArgumentParser
import Foundation
import SiteBuild

struct BuildCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "build",
        abstract: "Render the whole shop into static files.",
        discussion: """
            Reads the catalog, content/*.md and the theme, and writes the site into the publish \
            folder (publishDir in site.yml, default public/). The new site replaces the old one \
            in a single atomic step; a failed build leaves the old one untouched.
            """
    )

    @OptionGroup var site: SiteOptions

    @Option(name: .long, help: ArgumentHelp("Write the site here instead of publishDir.", valueName: "dir"))
    var out: String?

    func run() async throws {
        _ = LogSetup.bootstrap
        try await reportingErrors {
            let config = try site.loadConfig()
            _ = try config.runtime(for: site.environmentName)  // an unknown --env is a mistake here too
            let store = try await site.openStore(config)
            let output = out.map { URL(fileURLWithPath: $0).standardizedFileURL.path } ?? config.resolve(config.publishDir)
            let progress = TerminalProgress()
            let started = Date()
            do {
                let builder = SiteBuilder(config: config, store: store, logger: site.makeLogger(label: "ishop.build", defaultLevel: .warning))
                let report = try await builder.build(outputDirectory: output) { step in
                    progress.update("Rendering \(TerminalProgress.bar(done: step.done, total: step.total))", force: step.done == step.total)
                }
                progress.finish()
                try await store.close()
                let seconds = Date().timeIntervalSince(started)
                print("""
                    Built \(report.pagesWritten) pages (\(report.products) products, \(report.collections) collections, \
                    \(report.contentPages) content pages), \(report.feedsWritten) feeds and \(report.staticFiles) static files \
                    (\(report.compressedFiles) precompressed .gz) into \(report.output)
                    \(ByteCountFormatter.string(fromByteCount: Int64(report.bytesWritten), countStyle: .file)) written \
                    in \(String(format: "%.2f", seconds)) s
                    """)
            } catch {
                progress.finish()
                try? await store.close()
                throw error
            }
        }
    }
}
