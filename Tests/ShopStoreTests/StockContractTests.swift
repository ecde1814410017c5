import Foundation
import GRDB
import Logging
import PostgresNIO
import ShopCore
import ShopStore
import ShopTestSupport
import Testing

/// Stock can never go negative, whatever writes it (checkout's rule is CommerceContractTests').
@Suite("Store contract: stock")
struct StockContractTests {
    /// The last line of defence: even SQL that bypasses the Store cannot make stock negative.
    @Test("The database itself refuses negative stock", arguments: Backend.available)
    func databaseRefusesNegativeStock(backend: Backend) async throws {
        let opened = try await backend.open()
        defer { opened.remove() }
        _ = try await opened.store.upsert([Sample.simple(handle: "mug", sku: "MUG-1", stock: 1)])
        try await opened.store.close()

        switch backend {
        case .sqlite:
            let queue = try DatabaseQueue(path: opened.location)
            await #expect(throws: DatabaseError.self) {
                try await queue.write { db in try db.execute(sql: "UPDATE variants SET stock = stock - 2 WHERE sku = 'MUG-1'") }
            }
            let stock = try await queue.read { db in try Int.fetchOne(db, sql: "SELECT stock FROM variants WHERE sku = 'MUG-1'") }
            #expect(stock == 1)
            try queue.close()
        case .postgres:
            try await Backend.withAdminConnection(opened.location) { connection in
                await #expect(throws: PSQLError.self) {
                    try await connection.query("UPDATE variants SET stock = stock - 2 WHERE sku = 'MUG-1'", logger: Logger(label: "test"))
                }
                let rows = try await connection.query("SELECT stock FROM variants WHERE sku = 'MUG-1'", logger: Logger(label: "test"))
                var values: [Int] = []
                for try await value in rows.decode(Int.self) { values.append(value) }
                #expect(values == [1])
            }
        }
    }
}

/// What only PostgreSQL has: URLs, a pool, several stores on one database.
@Suite("PostgreSQL store", .enabled(if: Backend.postgresAdminURL != nil))
struct PostgresStoreTests {
    @Test("Two stores on one database see each other's writes, and migrations run once")
    func twoStoresOneDatabase() async throws {
        let url = try await Backend.freshDatabase()
        async let first = PostgresStore(url: url)
        async let second = PostgresStore(url: url)
        let (a, b) = try await (first, second)
        _ = try await a.upsert([Sample.figPrint()])
        #expect(try await b.catalog(includeUnpublished: true) == [Sample.figPrint()])
        _ = try await b.updateVariant(sku: "FIG-A4-NONE-MATTE", stock: 10, priceCents: nil, now: 1)
        #expect(try await a.stock(skus: ["FIG-A4-NONE-MATTE"]) == ["FIG-A4-NONE-MATTE": 10])
        try await a.close()
        try await b.close()
        // Opening again finds every migration applied.
        let again = try await PostgresStore(url: url)
        #expect(try await again.catalog(includeUnpublished: true).count == 1)
        try await again.close()
    }

    @Test("A missing database, a refused port and a bad sslmode are one-line errors")
    func connectionErrorsAreOneLine() async throws {
        let admin = try #require(Backend.postgresAdminURL)
        var missing = try #require(URLComponents(string: admin))
        missing.path = "/no_such_database_here"
        let cases: [(String, String)] = [
            (missing.string!, "does not exist"),
            ("postgres://ishop:pw@127.0.0.1:1/shop?sslmode=disable", "refused"),
            ("postgres://ishop@127.0.0.1/shop?sslmode=sometimes", "sslmode"),
            ("postgres://ishop@127.0.0.1/shop?colour=blue", "colour"),
        ]
        for (url, expected) in cases {
            let error = try await #require(throws: StoreError.self) { try await PostgresStore(url: url) }
            guard case .cannotOpen(let location, let reason) = error else {
                Issue.record("expected cannotOpen for \(url), got \(error)")
                continue
            }
            #expect(!location.contains(":pw@"))
            #expect(reason.contains(expected), "\(reason)")
            #expect(!error.description.contains("\n"), "\(error.description)")
            #expect(error.description.count < 300, "\(error.description)")
        }
    }

    @Test("StoreLocator opens postgres:// and postgresql:// URLs")
    func locatorOpensPostgres() async throws {
        let url = try await Backend.freshDatabase()
        for location in [url, url.replacingOccurrences(of: "postgres://", with: "postgresql://")] {
            let store = try await StoreLocator.open(location)
            try await store.ping()
            try await store.close()
        }
    }
}

@Suite("Test setup")
struct TestSetupTests {
    /// CI must run the contract on PostgreSQL too: a missing server is a failure there, not a skip.
    @Test("In CI the PostgreSQL backend is part of the run")
    func postgresInCI() {
        if ProcessInfo.processInfo.environment["CI"] != nil {
            #expect(Backend.available.contains(.postgres), "scripts/test did not start PostgreSQL (ISHOP_TEST_POSTGRES_URL unset)")
        }
    }
}
