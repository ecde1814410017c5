import ArgumentParser
import Foundation
import Logging
import ShopCore
import ShopStore

/// Options every command takes after its name (`ishop build --database x.sqlite`), named as
/// Hugo users expect. Command-line values beat environment variables, which beat site.yml.
struct SiteOptions: ParsableArguments {
    @Option(name: .long, help: ArgumentHelp("The site's configuration file.", valueName: "path"))
    var config: String = "site.yml"

    @Option(name: .long, help: ArgumentHelp(
        "The environment whose settings apply: development or production, or any other defined in site.yml (also ISHOP_ENV).",
        valueName: "name"))
    var env: String?

    @Option(name: .long, help: ArgumentHelp(
        "The catalog database: a SQLite file path or a postgres:// URL (also ISHOP_DATABASE_URL; default: database in site.yml).",
        valueName: "url"))
    var database: String?

    @Option(name: .long, help: ArgumentHelp("How much to log: trace, debug, info, notice, warning, error or critical.", valueName: "level"))
    var logLevel: Logger.Level?

    var environmentName: String {
        env ?? ProcessInfo.processInfo.environment["ISHOP_ENV"] ?? "development"
    }

    func loadConfig() throws -> SiteConfig {
        let path = URL(fileURLWithPath: config).standardizedFileURL.path
        if !FileManager.default.fileExists(atPath: path) {
            throw CLIError("\(config) does not exist: run ishop in the folder that holds site.yml, or pass --config PATH")
        }
        return try SiteConfig.load(path: path)
    }

    /// The database to open, after command line, environment and site.yml have had their say.
    func databaseLocation(_ config: SiteConfig) -> String {
        if let database { return database.contains("://") ? database : URL(fileURLWithPath: database).standardizedFileURL.path }
        if let fromEnvironment = ProcessInfo.processInfo.environment["ISHOP_DATABASE_URL"], !fromEnvironment.isEmpty {
            return fromEnvironment.contains("://") ? fromEnvironment : URL(fileURLWithPath: fromEnvironment).standardizedFileURL.path
        }
        return config.database.contains("://") ? config.database : config.resolve(config.database)
    }

    func openStore(_ config: SiteConfig) async throws -> any Store {
        try await StoreLocator.open(databaseLocation(config))
    }

    func openCommerceStore(_ config: SiteConfig) async throws -> any CommerceStore {
        try await StoreLocator.openCommerce(databaseLocation(config))
    }

    func makeLogger(label: String, defaultLevel: Logger.Level) -> Logger {
        var logger = Logger(label: label)
        logger.logLevel = logLevel ?? defaultLevel
        return logger
    }
}

extension Logger.Level: @retroactive ExpressibleByArgument {}

/// An error for the shop owner: printed as one line, without a stack trace.
struct CLIError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}

/// Runs a command body; any error is printed as `error: ...` on standard error and the command
/// exits with status 1, instead of a Swift error dump.
func reportingErrors(_ body: () async throws -> Void) async throws {
    do {
        try await body()
    } catch let exit as ExitCode {
        throw exit
    } catch {
        FileHandle.standardError.write(Data("error: \(error)\n".utf8))
        throw ExitCode.failure
    }
}

/// Logs go to standard error, one line each with metadata, in swift-log's stream handler format
/// (LogLineHandler). Bootstrapped once per process.
enum LogSetup {
    static let bootstrap: Void = {
        LoggingSystem.bootstrap { label in LogLineHandler(label: label) }
    }()
}
