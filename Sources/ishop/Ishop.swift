import ArgumentParser
import Foundation
import Logging

@main
struct Ishop: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "ishop",
        abstract: "A static-site generator and edge runtime for online shops.",
        discussion: """
            A shop's catalog lives in a database (a SQLite file, or PostgreSQL). `ishop build` renders \
            every catalog page into a folder that any web server can serve as plain files; \
            `ishop serve` runs the few things that must be live (the JSON API).

            Typical use, in the folder that holds site.yml:
              ishop import shopify products.csv
              ishop build
              ishop serve
              ishop export shopify --out backup.csv
            """,
        version: "0.1.0",
        subcommands: [ImportCommand.self, ExportCommand.self, BuildCommand.self, ServeCommand.self, UserCommand.self]
    )
}
