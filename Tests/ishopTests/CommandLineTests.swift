import AsyncHTTPClient
import Foundation
import NIOCore
import NIOHTTP1
import ShopSystem
import ShopTestSupport
import Testing

/// Drives the built `ishop` binary as a shop owner would: real processes, a real SQLite file,
/// a real server on a loopback port.
struct Shop {
    /// The `ishop` binary SwiftPM built beside this test bundle.
    static var binary: String {
        var candidates: [String] = []
        if let executable = Bundle.main.executableURL {
            candidates.append(executable.deletingLastPathComponent().appendingPathComponent("ishop").path)
        }
        candidates.append(Bundle.main.bundleURL.deletingLastPathComponent().appendingPathComponent("ishop").path)
        candidates.append(Repository.path(".build/debug/ishop"))
        return candidates.first { FileManager.default.isExecutableFile(atPath: $0) } ?? candidates.last!
    }

    let directory: String

    /// A copy of the example shop in a temporary folder, so the repository's public/ is untouched.
    static func copyExample() throws -> Shop {
        let directory = try TemporaryFolder("cli").path
        for item in ["site.yml", "content", "themes", "static", "catalog"] {
            try FileManager.default.copyItem(atPath: Repository.path(item), toPath: "\(directory)/\(item)")
        }
        try FileManager.default.createDirectory(atPath: "\(directory)/.ishop", withIntermediateDirectories: true)
        return Shop(directory: directory)
    }

    func remove() { try? FileManager.default.removeItem(atPath: directory) }

    struct Result {
        let status: Int32
        let stdout: String
        let stderr: String
    }

    /// The environment a command runs with: this process's, without the variables that would
    /// point it at another shop, plus `changes`.
    static func environment(_ changes: [String: String] = [:]) -> [String: String] {
        var environment = ProcessInfo.processInfo.environment
        environment["ISHOP_DATABASE_URL"] = nil
        environment["ISHOP_ENV"] = nil
        for (key, value) in changes { environment[key] = value }
        return environment
    }

    @discardableResult
    func run(_ arguments: [String], environment: [String: String] = [:], input: String? = nil) throws -> Result {
        let finished = try ChildProcess.run(
            Shop.binary, arguments: arguments, environment: Shop.environment(environment), directory: directory,
            input: input.map { Array($0.utf8) })
        // A signal is reported as the shell would (128 + its number), so it never reads as success.
        let status: Int32 = switch finished.termination {
        case .exited(let code): code
        case .signalled(let signal): 128 + signal
        }
        return Result(status: status, stdout: finished.outputText, stderr: finished.errorText)
    }

    func exists(_ relative: String) -> Bool { FileManager.default.fileExists(atPath: "\(directory)/\(relative)") }

    func read(_ relative: String) throws -> String { try String(contentsOfFile: "\(directory)/\(relative)", encoding: .utf8) }
}

/// A running `ishop serve`, stopped with SIGTERM at the end.
final class RunningServer: @unchecked Sendable {
    let process: ChildProcess
    let port: Int
    /// The runtime's log, kept so that a runtime that will not stop can say where it hangs.
    let logPath = NSTemporaryDirectory() + "ishop-serve-\(UUID().uuidString).log"

    init(shop: Shop, arguments: [String], environment: [String: String] = [:]) throws {
        var inherited = ProcessInfo.processInfo.environment
        for (key, value) in environment { inherited[key] = value }
        process = try ChildProcess(
            Shop.binary, arguments: ["serve", "--port", "0"] + arguments, environment: inherited, directory: shop.directory,
            output: .pipe, error: .file(logPath))
        // The runtime prints one line once it listens: "ishop is serving ... at http://127.0.0.1:PORT/ ...".
        var collected = ""
        while !collected.contains("\n") {
            let chunk = process.readChunk(process.standardOutput)
            if chunk.isEmpty { break }
            collected += String(decoding: chunk, as: UTF8.self)
        }
        guard let range = collected.range(of: #"http://127\.0\.0\.1:(\d+)/"#, options: .regularExpression) else {
            process.stop()
            throw ServerDidNotStart(output: collected)
        }
        let address = collected[range]
        port = Int(address.split(separator: ":").last!.dropLast())!
    }

    struct ServerDidNotStart: Error { let output: String }

    func get(_ path: String, method: HTTPMethod = .GET, headers: [(String, String)] = [], body: String? = nil) async throws
        -> (status: UInt, body: String, contentType: String)
    {
        var request = HTTPClientRequest(url: "http://127.0.0.1:\(port)\(path)")
        request.method = method
        if let body { request.body = .bytes(ByteBuffer(string: body)) }
        for (name, value) in headers { request.headers.add(name: name, value: value) }
        let response = try await HTTPClient.shared.execute(request, timeout: .seconds(10))
        let body = try await response.body.collect(upTo: 1 << 22)
        return (response.status.code, String(buffer: body), response.headers["content-type"].first ?? "")
    }

    /// SIGTERM, then wait: the runtime must shut down gracefully and exit 0.
    /// (A generous bound: on a starved CI machine everything is ten times slower.)
    func stop() -> Int32 {
        process.send(SIGTERM)
        let deadline = Date().addingTimeInterval(45)
        while process.isRunning && Date() < deadline { usleep(20_000) }
        defer { try? FileManager.default.removeItem(atPath: logPath) }
        if process.isRunning {
            process.stop(SIGKILL)
            let log = (try? String(contentsOfFile: logPath, encoding: .utf8)) ?? ""
            // Marked lines: scripts/test repeats them at the end of the output, where CI shows it.
            let tail = log.split(separator: "\n").suffix(40).map { "ishop-serve-log| \($0)" }.joined(separator: "\n")
            FileHandle.standardError.write(Data("ishop-serve-log| did not stop within 45 s of SIGTERM; its last log lines:\n\(tail)\n".utf8))
            return -1
        }
        return process.wait().status ?? -1
    }
}

@Suite(.serialized) struct CommandLineTests {
    @Test func helpListsOnlyWorkingCommands() throws {
        let shop = try Shop.copyExample()
        defer { shop.remove() }
        let help = try shop.run(["--help"])
        #expect(help.status == 0)
        for command in ["import", "export", "build", "serve"] { #expect(help.stdout.contains(command)) }
        let buildHelp = try shop.run(["build", "--help"])
        for option in ["--config", "--env", "--database", "--out"] { #expect(buildHelp.stdout.contains(option), "\(option)") }
        let serveHelp = try shop.run(["serve", "--help"])
        for option in ["--config", "--env", "--database", "--host", "--port"] { #expect(serveHelp.stdout.contains(option), "\(option)") }
        let importHelp = try shop.run(["import", "shopify", "--help"])
        for option in ["--config", "--env", "--database"] { #expect(importHelp.stdout.contains(option), "\(option)") }
    }

    @Test func importBuildServeEndToEnd() async throws {
        let shop = try Shop.copyExample()
        defer { shop.remove() }

        let imported = try shop.run(["import", "shopify", "catalog/products.csv"])
        #expect(imported.status == 0, "\(imported.stderr)")
        #expect(imported.stdout.contains("Imported 6 products, 24 variants, 7 images"))
        #expect(shop.exists(".ishop/shop.sqlite"))

        let again = try shop.run(["import", "shopify", "catalog/products.csv"])
        #expect(again.stdout.contains("0 created, 0 updated, 6 unchanged"))

        let built = try shop.run(["build"])
        #expect(built.status == 0, "\(built.stderr)")
        #expect(shop.exists("public/index.html"))
        #expect(shop.exists("public/products/fig-bowl-print/index.html"))
        #expect(!shop.exists("public/products/sunset-hills-print/index.html"))
        #expect(shop.exists("public/shipping/index.html"))

        let server = try RunningServer(shop: shop, arguments: [])
        let health = try await server.get("/healthz")
        #expect(health.status == 200 && health.body == "ok")
        let ready = try await server.get("/readyz")
        #expect(ready.status == 200)
        let product = try await server.get("/api/products/fig-bowl-print")
        #expect(product.status == 200)
        #expect(product.body.contains(#""handle":"fig-bowl-print""#))
        let stock = try await server.get("/api/stock?skus=LP-FIG-A4,LP-FIG-A2-OAK")
        #expect(stock.body == #"{"stock":{"LP-FIG-A2-OAK":0,"LP-FIG-A4":12}}"#)
        let home = try await server.get("/")
        #expect(home.status == 200)
        #expect(home.body.contains("Fig in a Red Bowl"))
        let page = try await server.get("/products/fig-bowl-print/")
        #expect(page.status == 200)
        #expect(page.contentType.hasPrefix("text/html"))
        #expect(page.body.contains(#"data-sku="LP-FIG-A4""#))
        let missing = try await server.get("/api/products/nope")
        #expect(missing.status == 404)
        #expect(missing.body.contains(#""error":"not_found""#))
        #expect(server.stop() == 0)
    }

    /// Three pictures missing: one warning line for the three, printed once (not also as a log
    /// line), and each picture on its own at --log-level debug.
    @Test func imageWarningsAreGroupedAndPrintedOnce() throws {
        let shop = try Shop.copyExample()
        defer { shop.remove() }
        for name in ["bird-lamp", "dandelions", "fig-bowl"] {
            try FileManager.default.removeItem(atPath: "\(shop.directory)/static/images/products/\(name).jpg")
        }
        #expect(try shop.run(["import", "shopify", "catalog/products.csv"]).status == 0)
        let built = try shop.run(["build"])
        #expect(built.status == 0, "\(built.stderr)")
        let warnings = built.stderr.split(separator: "\n").filter { $0.lowercased().contains("warning") }
        #expect(warnings == ["warning: 3 images from local files: no such file (for example /images/products/bird-lamp.jpg)"],
                "\(built.stderr)")
        #expect(built.stdout.contains("3 failed (placeholders)"))

        try FileManager.default.removeItem(atPath: "\(shop.directory)/static/images/products/wine-still-life.jpg")
        let verbose = try shop.run(["build", "--log-level", "debug"])
        #expect(verbose.status == 0)
        for name in ["bird-lamp", "dandelions", "fig-bowl", "wine-still-life"] {
            #expect(verbose.stderr.contains("/images/products/\(name).jpg"), "\(name) is in the debug log")
        }
        #expect(verbose.stderr.contains("warning: 4 images from local files"))
    }

    @Test func optionsOverrideSiteYml() async throws {
        let shop = try Shop.copyExample()
        defer { shop.remove() }
        // --database after the command's name, and ISHOP_DATABASE_URL.
        #expect(try shop.run(["import", "shopify", "catalog/products.csv", "--database", "other.sqlite"]).status == 0)
        #expect(shop.exists("other.sqlite"))
        #expect(!shop.exists(".ishop/shop.sqlite"))
        let built = try shop.run(["build", "--database", "other.sqlite", "--out", "elsewhere"])
        #expect(built.status == 0, "\(built.stderr)")
        #expect(shop.exists("elsewhere/products/fig-bowl-print/index.html"))
        #expect(!shop.exists("public/index.html"))

        #expect(try shop.run(["import", "shopify", "catalog/products.csv"], environment: ["ISHOP_DATABASE_URL": "env.sqlite"]).status == 0)
        #expect(shop.exists("env.sqlite"))

        // --config from another folder: paths in site.yml are relative to site.yml.
        let outside = try Shop.copyExample()
        defer { outside.remove() }
        let fromAfar = try outside.run(["build", "--config", "\(shop.directory)/site.yml", "--database", "\(shop.directory)/other.sqlite"])
        #expect(fromAfar.status == 0, "\(fromAfar.stderr)")
        #expect(shop.exists("public/products/fig-bowl-print/index.html"))
    }

    @Test func mistakesAreOneLineErrorsWithExitStatus1() throws {
        let shop = try Shop.copyExample()
        defer { shop.remove() }

        let noConfig = try shop.run(["build", "--config", "missing.yml"])
        #expect(noConfig.status == 1)
        #expect(noConfig.stderr.hasPrefix("error: missing.yml does not exist"))

        let badEnv = try shop.run(["build", "--env", "staging"])
        #expect(badEnv.status == 1)
        #expect(badEnv.stderr.contains("staging"))

        try "title: Shop\nbaseURL: http://x/\nenvironments:\n  production:\n    port: many\n".write(
            toFile: "\(shop.directory)/bad.yml", atomically: true, encoding: .utf8)
        let badConfig = try shop.run(["build", "--config", "bad.yml"])
        #expect(badConfig.status == 1)
        #expect(badConfig.stderr.contains("bad.yml:5: environments.production.port"))

        try "Handle,Title,Variant Price\nmug,Mug,12.x\n".write(toFile: "\(shop.directory)/bad.csv", atomically: true, encoding: .utf8)
        let badCSV = try shop.run(["import", "shopify", "bad.csv"])
        #expect(badCSV.status == 1)
        #expect(badCSV.stderr.contains("bad.csv:2"))
        #expect(badCSV.stderr.contains("Variant Price"))
        #expect(!badCSV.stderr.contains("Fatal error"))

        let productionWithoutSecret = try shop.run(["serve", "--env", "production", "--port", "0"], environment: ["ISHOP_JWT_SECRET": ""])
        #expect(productionWithoutSecret.status == 1)
        #expect(productionWithoutSecret.stderr.contains("refusing to start in production"))

        let postgres = try shop.run(["build", "--database", "postgres://shop:pw@127.0.0.1:1/shop?sslmode=disable"])
        #expect(postgres.status == 1)
        #expect(!postgres.stderr.contains(":pw@"))
    }

    @Test func serveStopsGracefullyOnSIGINT() async throws {
        let shop = try Shop.copyExample()
        defer { shop.remove() }
        #expect(try shop.run(["import", "shopify", "catalog/products.csv"]).status == 0)
        let server = try RunningServer(shop: shop, arguments: ["--host", "127.0.0.1"])
        #expect(try await server.get("/healthz").status == 200)
        server.process.send(SIGINT)
        let deadline = Date().addingTimeInterval(15)
        while server.process.isRunning && Date() < deadline { usleep(20_000) }
        #expect(!server.process.isRunning)
        #expect(server.process.wait() == .exited(0))
    }

    @Test func sigtermDoesNotWaitForAConnectionThatNeverSentARequest() async throws {
        let shop = try Shop.copyExample()
        defer { shop.remove() }
        #expect(try shop.run(["import", "shopify", "catalog/products.csv"]).status == 0)
        let server = try RunningServer(shop: shop, arguments: [])
        // Sockets the server process holds (Linux /proc): one more once it has accepted ours.
        func sockets() -> Int {
            let folder = "/proc/\(server.process.processIdentifier)/fd"
            let entries = (try? FileManager.default.contentsOfDirectory(atPath: folder)) ?? []
            return entries.filter { (try? FileManager.default.destinationOfSymbolicLink(atPath: "\(folder)/\($0)"))?.hasPrefix("socket:") == true }.count
        }
        #expect(try await server.get("/healthz").status == 200)
        let before = sockets()
        // Connected, and silent: no request ever comes (a client's spare pooled connection).
        let idle = try RawSocket(port: server.port)
        var open = before
        for _ in 0..<500 where open <= before {
            open = sockets()
            if open <= before { usleep(20_000) }
        }
        #expect(open > before, "the silent connection was never accepted")
        #expect(server.stop() == 0, "SIGTERM waited for a connection that had nothing in progress")
        withExtendedLifetime(idle) {}
    }

    @Test func sigtermLetsARequestInFlightFinish() async throws {
        let shop = try Shop.copyExample()
        defer { shop.remove() }
        #expect(try shop.run(["import", "shopify", "catalog/products.csv"]).status == 0)
        let server = try RunningServer(shop: shop, arguments: [])
        // A request held in flight by the client itself: its body arrives in two parts, and the
        // runtime is told to stop between them (no timing: the runtime's own gauge says when).
        let body = Array(#"{"email":"late@example.com","password":"a slow but fine password"}"#.utf8)
        let connection = try RawSocket(port: server.port)
        connection.send(Array("POST /api/auth/register HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: \(body.count)\r\nConnection: close\r\n\r\n".utf8) + body.prefix(10))
        var inFlight = 0
        let deadline = Date().addingTimeInterval(60)
        while inFlight < 2 && Date() < deadline {
            let metrics = try await server.get("/metrics").body
            if let line = metrics.split(separator: "\n").first(where: { $0.hasPrefix("ishop_http_requests_in_flight ") }),
               let value = Double(line.split(separator: " ").last ?? "") {
                inFlight = Int(value)
            }
            if inFlight < 2 { usleep(20_000) }
        }
        #expect(inFlight >= 2, "the registration never showed as in flight")
        server.process.send(SIGTERM)  // SIGTERM while the body is still arriving
        usleep(200_000)
        connection.send(Array(body.dropFirst(10)))
        let answer = String(decoding: await connection.readUntilClosed(), as: UTF8.self)
        #expect(answer.hasPrefix("HTTP/1.1 201"), "\(answer)")
        #expect(answer.contains("late@example.com"))
        let stopDeadline = Date().addingTimeInterval(30)
        while server.process.isRunning && Date() < stopDeadline { usleep(20_000) }
        #expect(!server.process.isRunning)
        #expect(server.process.wait() == .exited(0))
    }

    @Test func userCreateTakesThePasswordFromStandardInputOrTheEnvironmentNeverArgv() async throws {
        let shop = try Shop.copyExample()
        defer { shop.remove() }
        #expect(try shop.run(["import", "shopify", "catalog/products.csv"]).status == 0)

        let made = try shop.run(["user", "create", "--email", "Owner@Example.com", "--admin"], input: "correct horse battery\n")
        #expect(made.status == 0, "\(made.stderr)")
        #expect(made.stdout.contains("Created admin owner@example.com"))
        let again = try shop.run(["user", "create", "--email", "owner@example.com"], input: "another good password\n")
        #expect(again.status == 1)
        #expect(again.stderr.contains("already exists"))
        let fromEnvironment = try shop.run(["user", "create", "--email", "clerk@example.com", "--password-env", "CLERK_PASSWORD"],
                                           environment: ["CLERK_PASSWORD": "clerk password 123"])
        #expect(fromEnvironment.status == 0, "\(fromEnvironment.stderr)")
        #expect(fromEnvironment.stdout.contains("Created customer clerk@example.com"))
        let weak = try shop.run(["user", "create", "--email", "weak@example.com"], input: "short\n")
        #expect(weak.status == 1)
        #expect(weak.stderr.contains("at least 10 characters"))
        let nothing = try shop.run(["user", "create", "--email", "none@example.com"])
        #expect(nothing.status == 1)
        #expect(nothing.stderr.contains("no password"))
        let onArgv = try shop.run(["user", "create", "--email", "argv@example.com", "--password", "correct horse battery"])
        #expect(onArgv.status != 0, "there is no option that takes a password")

        // The admin signs in to a development runtime that has no JWT secret set, and edits stock.
        let server = try RunningServer(shop: shop, arguments: [])
        let login = try await server.get("/api/auth/login", method: .POST, headers: [("Content-Type", "application/json")],
                                         body: #"{"email":"owner@example.com","password":"correct horse battery"}"#)
        #expect(login.status == 200)
        let token = try #require(
            (try JSONSerialization.jsonObject(with: Data(login.body.utf8)) as? [String: Any])?["access_token"] as? String)
        let patch = try await server.get("/api/admin/variants/LP-FIG-A4", method: .PATCH,
                                         headers: [("Content-Type", "application/json"), ("Authorization", "Bearer \(token)")],
                                         body: #"{"stock":7}"#)
        #expect(patch.status == 200)
        #expect(patch.body.contains(#""stock":7"#))
        let metrics = try await server.get("/metrics")
        #expect(metrics.body.contains("ishop_http_connections_open"))
        #expect(metrics.body.contains(#"ishop_http_requests_total{method="PATCH",route="/api/admin/variants/{sku}",status="200"} 1"#))
        #expect(server.stop() == 0)
    }
}

