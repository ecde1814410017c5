import ArgumentParser
import Foundation
import ShopRuntime
import ShopStore

struct UserCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "user",
        abstract: "Manage the shop's accounts.",
        subcommands: [CreateUser.self]
    )
}

struct CreateUser: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "create",
        abstract: "Create an account (an admin with --admin).",
        discussion: """
            The password is read from standard input (one line), or from the environment variable \
            named by --password-env; never from the command line, where other users of the machine \
            and the shell history could read it. Example:
              printf '%s\\n' "$ADMIN_PASSWORD" | ishop user create --email owner@example.com --admin
            """
    )

    @OptionGroup var site: SiteOptions

    @Option(name: .long, help: ArgumentHelp("The account's email address.", valueName: "email"))
    var email: String

    @Flag(name: .long, help: "Make the account an admin (may change stock and prices).")
    var admin = false

    @Option(name: .long, help: ArgumentHelp("Read the password from this environment variable instead of standard input.",
                                            valueName: "name"))
    var passwordEnv: String?

    func run() async throws {
        _ = LogSetup.bootstrap
        try await reportingErrors {
            let password: String
            if let passwordEnv {
                guard let value = ProcessInfo.processInfo.environment[passwordEnv], !value.isEmpty else {
                    throw CLIError("the environment variable \(passwordEnv) is not set")
                }
                password = value
            } else {
                if isatty(STDIN_FILENO) != 0 { FileHandle.standardError.write(Data("Password (one line): ".utf8)) }
                guard let line = readLine(strippingNewline: true), !line.isEmpty else {
                    throw CLIError("no password on standard input (or use --password-env NAME)")
                }
                password = line
            }
            let config = try site.loadConfig()
            let settings = try config.runtime(for: site.environmentName)
            let store = try await site.openCommerceStore(config)
            do {
                let account = try await Accounts.create(store: store, email: email, password: password, role: admin ? .admin : .customer,
                                                        bcryptCost: settings.bcryptCost)
                try await store.close()
                print("Created \(account.role.rawValue) \(account.email) (id \(account.id))")
            } catch {
                try? await store.close()
                throw error
            }
        }
    }
}
