import ArgumentParser
import CSystemCalls
import Foundation
import ShopImages
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

    @Flag(name: .long, help: "Remote product images from the image cache only; nothing is fetched.")
    var offline = false

    @Flag(name: .long, help: "Fail the build when a product image cannot be had (instead of a placeholder and a warning).")
    var strict = false

    @Flag(name: .customLong("no-images"), help: "Pages only: product pictures keep the catalog's image addresses; no image is made or fetched.")
    var noImages = false

    @Flag(name: .customLong("no-sync"), help: "Do not wait for the new site to reach the disk before it replaces the old one (throwaway builds only: a power cut could leave files half-written).")
    var noSync = false

    /// A build is a short process that allocates and frees large buffers (a window of pages, the
    /// feeds' tens of megabytes) between many small strings. glibc's defaults hand memory above
    /// 128 KiB back to the kernel on free and map large blocks anew each time, so the next
    /// allocation pays page faults for fresh zeroed pages again: a tenth of a one-product
    /// rebuild's time went to malloc's trimming, consolidation and those faults. Freed memory is
    /// kept for reuse instead; the process ends soon anyway.
    static func keepFreedMemory() {
        ishop_keep_freed_memory()
    }

    func validate() throws {
        if let jobs, !(1...256).contains(jobs) { throw ValidationError("--jobs must be between 1 and 256") }
    }

    func run() async throws {
        _ = LogSetup.bootstrap
        Self.keepFreedMemory()
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
                builder.processImages = !noImages
                builder.syncBeforePublish = !noSync
                builder.leavesMemoryToExit = true  // the process ends right after the build
                builder.imageOptions = ImagePipeline.Options(offline: offline, strict: strict)
                let imagesOnTerminal = progress.isTerminal
                builder.imageProgress = { done, total in
                    // Plain lines: the image workers call this from several threads.
                    if total >= 8, done * 4 / total != (done - 1) * 4 / total || done == total, !imagesOnTerminal || done == total {
                        FileHandle.standardError.write(Data("Images: \(done) of \(total) sources\n".utf8))
                    }
                }
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
                // Grouped by host and reason; each image is in the log at --log-level debug.
                for group in report.imageWarnings {
                    FileHandle.standardError.write(Data("warning: \(group.count == 1 ? "image " : "")\(group)\n".utf8))
                }
                if report.imagesProcessed + report.imagesCached + report.imagesFailed > 0 {
                    print("""
                        Images: \(report.imagesProcessed) made, \(report.imagesCached) from the cache, \(report.imagesFailed) \
                        failed (placeholders), \(report.imageFiles) files, \
                        \(ByteCountFormatter.string(fromByteCount: Int64(report.imageBytesSaved), countStyle: .file)) saved against the sources
                        """)
                }
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
