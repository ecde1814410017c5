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

    @Option(name: .long, help: ArgumentHelp("Pages rendered at once (default: the number of cores).", valueName: "n"))
    var jobs: Int?

    func validate() throws {
        if let jobs, !(1...256).contains(jobs) { throw ValidationError("--jobs must be between 1 and 256") }
    }

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
                var builder = SiteBuilder(config: config, store: store, logger: site.makeLogger(label: "ishop.build", defaultLevel: .warning))
                if let jobs { builder.jobs = jobs }
                var reported = 0
                let report = try await builder.build(outputDirectory: output) { step in
                    if progress.isTerminal {
                        progress.update("Rendering \(TerminalProgress.bar(done: step.done, total: step.total))", force: step.done == step.total)
                    } else if step.total >= 1000, step.done * 4 / step.total > reported {
                        // Logs and pipes: a plain line at each quarter of a large build, no carriage returns.
                        reported = step.done * 4 / step.total
                        FileHandle.standardError.write(Data("Rendered \(step.done) of \(step.total) pages\n".utf8))
                    }
                }
                progress.finish()
                try await store.close()
                let seconds = Date().timeIntervalSince(started)
                let removed = report.outputsRemoved > 0 ? ", \(report.outputsRemoved) removed" : ""
                print("""
                    Built \(report.pagesWritten) pages (\(report.products) products, \(report.collections) collections, \
                    \(report.contentPages) content pages; \(report.pagesWritten - report.pagesReused) rendered, \
                    \(report.pagesReused) unchanged), \(report.feedsWritten) feeds (\(report.feedsWritten - report.feedsReused) \
                    rendered) and \(report.staticFiles) static files (\(report.compressedFiles) precompressed .gz written\(removed)) \
                    into \(report.output)
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
