import ArgumentParser
import Foundation
import Hummingbird
import ShopRuntime

struct ServeCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "serve",
        abstract: "Run the shop's live runtime: the JSON API (and, in development, the built site).",
        discussion: """
            Host, port, allowed CORS origins and whether to serve the built site come from the \
            environment's section of site.yml. Stops gracefully on SIGTERM or SIGINT (Ctrl-C).
            """
    )

    @OptionGroup var site: SiteOptions

    @Option(name: .long, help: ArgumentHelp("Address to listen on (default: the environment's host).", valueName: "host"))
    var host: String?

    @Option(name: .long, help: ArgumentHelp("Port to listen on; 0 picks a free one (default: the environment's port).", valueName: "port"))
    var port: Int?

    func validate() throws {
        if let port, !(0...65535).contains(port) { throw ValidationError("--port must be between 0 and 65535") }
    }

    func run() async throws {
        _ = LogSetup.bootstrap
        try await reportingErrors {
            let config = try site.loadConfig()
            var settings = try config.runtime(for: site.environmentName)
            if let host { settings.host = host }
            if let port { settings.port = port }
            let policy = try Runtime.checkSettings(settings, environment: ProcessInfo.processInfo.environment)
            let logger = site.makeLogger(label: "ishop.serve", defaultLevel: .info)
            let secret = try Runtime.jwtSecret(settings, environment: ProcessInfo.processInfo.environment, logger: logger)
            let store = try await site.openCommerceStore(config)
            // Live stock: reads the events table; on PostgreSQL also LISTENs for other instances' commits.
            let hub = try await StockHub.open(store: store, logger: site.makeLogger(label: "ishop.stock", defaultLevel: .info))
            let publicDirectory = settings.serveStatic ? config.resolve(config.publishDir) : nil
            let listening = settings
            let title = config.title
            let app = Runtime.application(
                config: config, settings: settings, policy: policy, store: store, publicDirectory: publicDirectory,
                secret: secret, hub: hub, logger: logger
            ) { port in
                let shown = listening.host.contains(":") ? "[\(listening.host)]" : listening.host
                // Written in one call and flushed: scripts and tests wait for this line.
                FileHandle.standardOutput.write(Data("ishop is serving \(title) at http://\(shown):\(port)/ (environment: \(listening.name))\n".utf8))
            }
            do {
                try await app.runService()
            } catch {
                try? await store.close()
                throw error
            }
            try await store.close()
        }
    }
}
