import Foundation
import Logging
import PostgresNIO
import ShopStore

/// Test support shared by the test targets (a library target that only tests depend on).
///
/// The backends the Store contract runs on. PostgreSQL needs a server: scripts/test starts a
/// private one and sets ISHOP_TEST_POSTGRES_URL (a superuser URL); each test gets its own database.
public enum Backend: String, Sendable, CustomStringConvertible {
    case sqlite, postgres

    public static var postgresAdminURL: String? {
        ProcessInfo.processInfo.environment["ISHOP_TEST_POSTGRES_URL"].flatMap { $0.isEmpty ? nil : $0 }
    }

    public static var available: [Backend] { postgresAdminURL == nil ? [.sqlite] : [.sqlite, .postgres] }

    public var description: String { rawValue }

    public struct SetupError: Error, CustomStringConvertible {
        public let description: String
    }

    public struct Opened: Sendable {
        public let store: any Store
        /// Where the store is: a file path or a postgres:// URL (to open it again).
        public let location: String
        let directory: String?

        /// The same store as the runtime sees it (every backend is a CommerceStore).
        public var commerce: any CommerceStore { store as! any CommerceStore }

        public func remove() {
            if let directory { try? FileManager.default.removeItem(atPath: directory) }
        }
    }

    public func open() async throws -> Opened {
        switch self {
        case .sqlite:
            let folder = try TemporaryFolder("store")
            let path = folder.file("shop.sqlite")
            return Opened(store: try SQLiteStore(path: path), location: path, directory: folder.path)
        case .postgres:
            let url = try await Self.freshDatabase()
            return Opened(store: try await PostgresStore(url: url), location: url, directory: nil)
        }
    }

    /// A new, empty database on the test server; its URL. The whole cluster is thrown away after the run.
    public static func freshDatabase() async throws -> String {
        guard let admin = postgresAdminURL else { throw SetupError(description: "ISHOP_TEST_POSTGRES_URL is not set") }
        let name = "ishop_test_" + UUID().uuidString.lowercased().replacingOccurrences(of: "-", with: "")
        _ = try await withAdminConnection(admin) { connection in
            try await connection.query(PostgresQuery(unsafeSQL: "CREATE DATABASE \(name)"), logger: Logger(label: "test"))
        }
        guard var components = URLComponents(string: admin) else { throw SetupError(description: "bad URL \(admin)") }
        components.path = "/\(name)"
        return components.string!
    }

    /// Runs `body` on a plain connection to the test server's given database (for what the
    /// Store does not offer: creating databases, breaking rules on purpose).
    public static func withAdminConnection<T>(_ url: String, _ body: (PostgresConnection) async throws -> T) async throws -> T {
        guard let components = URLComponents(string: url) else { throw SetupError(description: "bad URL \(url)") }
        let configuration = PostgresConnection.Configuration(
            host: components.host ?? "127.0.0.1", port: components.port ?? 5432, username: components.user ?? "ishop",
            password: components.password, database: String(components.path.dropFirst()), tls: .disable)
        let connection = try await PostgresConnection.connect(configuration: configuration, id: 1, logger: Logger(label: "test"))
        do {
            let result = try await body(connection)
            try await connection.close()
            return result
        } catch {
            try? await connection.close()
            throw error
        }
    }
}
