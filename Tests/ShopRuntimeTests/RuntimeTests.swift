import Foundation
import GRDB
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import Logging
import ShopCore
import ShopImport
import ShopRuntime
import ShopStore
import ShopTestSupport
import Testing

/// A real store (SQLite, or PostgreSQL when the tests have a server) with the example shop's
/// catalog, and a real folder as public/.
struct RuntimeFixture {
    let directory: String
    let store: any CommerceStore
    let opened: Backend.Opened
    let config: SiteConfig
    let publicDirectory: String
    /// Delivers on each route's commit only (no poll, no background task): tests stay deterministic.
    let hub: StockHub

    static func make(_ backend: Backend = .sqlite) async throws -> RuntimeFixture {
        let directory = try TemporaryFolder("runtime").path
        let config = try SiteConfig.load(path: Repository.path("site.yml"))
        let opened = try await backend.open()
        let store = opened.commerce
        _ = try await ShopifyImporter(store: store, currency: config.currency)
            .importFiles([Repository.exampleCatalog])
        let publicDirectory = "\(directory)/public"
        try FileManager.default.createDirectory(atPath: "\(publicDirectory)/css", withIntermediateDirectories: true)
        try FileManager.default.createDirectory(atPath: "\(publicDirectory)/products/fig-bowl-print", withIntermediateDirectories: true)
        try "<!doctype html><title>Home</title>".write(toFile: "\(publicDirectory)/index.html", atomically: true, encoding: .utf8)
        try "<!doctype html><title>Fig</title>".write(toFile: "\(publicDirectory)/products/fig-bowl-print/index.html", atomically: true, encoding: .utf8)
        try "body{color:red}".write(toFile: "\(publicDirectory)/css/shop.css", atomically: true, encoding: .utf8)
        try "<!doctype html><title>Not found</title>NOT-FOUND-PAGE".write(toFile: "\(publicDirectory)/404.html", atomically: true, encoding: .utf8)
        let hub = try await StockHub.open(store: store, settings: .init(pollInterval: nil))
        return RuntimeFixture(directory: directory, store: store, opened: opened, config: config, publicDirectory: publicDirectory, hub: hub)
    }

    /// The signing secret of every fixture runtime, so tests can forge tokens on purpose.
    static let secret = Array("test-secret-of-at-least-32-bytes-for-hs256".utf8)

    func application(
        origins: [String] = ["http://localhost:*", "https://shop.example.com"], serveStatic: Bool = true,
        events: StockHub? = nil, metrics: RuntimeMetrics = RuntimeMetrics(),
        configure: (inout RuntimeSettings) -> Void = { _ in }
    ) throws -> some ApplicationProtocol {
        let settings = Self.settings(origins: origins, configure: configure)
        let policy = try Runtime.checkSettings(settings, environment: [:])
        let router = Runtime.router(config: config, settings: settings, policy: policy, store: store,
                                    publicDirectory: serveStatic ? publicDirectory : nil, secret: Self.secret, hub: events ?? hub,
                                    metrics: metrics)
        return Application(router: router, configuration: .init(address: .hostname("127.0.0.1", port: 0)))
    }

    /// The whole runtime as `ishop serve` runs it: the /ws/stock upgrade, the hub as a service.
    func liveApplication(
        origins: [String] = ["http://localhost:*", "https://shop.example.com"], hub: StockHub? = nil,
        sockets: StockSocketSettings = StockSocketSettings(), metrics: RuntimeMetrics = RuntimeMetrics()
    ) throws -> some ApplicationProtocol {
        var settings = Self.settings(origins: origins) { _ in }
        settings.host = "127.0.0.1"
        let policy = try Runtime.checkSettings(settings, environment: [:])
        var logger = Logger(label: "ishop.test")
        logger.logLevel = .warning
        return Runtime.application(config: config, settings: settings, policy: policy, store: store, publicDirectory: nil,
                                   secret: Self.secret, hub: hub ?? self.hub, socketSettings: sockets, metrics: metrics, logger: logger)
    }

    static func settings(origins: [String], configure: (inout RuntimeSettings) -> Void) -> RuntimeSettings {
        var settings = RuntimeSettings.defaults(for: "development")
        settings.port = 0
        settings.allowedOrigins = origins
        // The lowest bcrypt cost: tests hash many passwords, and cost is not what they check.
        settings.bcryptCost = 4
        settings.authRateLimitPerIP = .init(perMinute: 600, burst: 1000)
        settings.authRateLimitPerAccount = .init(perMinute: 600, burst: 1000)
        configure(&settings)
        return settings
    }

    func remove() {
        try? FileManager.default.removeItem(atPath: directory)
        opened.remove()
    }
}

struct ErrorBody: Decodable, Equatable {
    let error: String
    let message: String
}

func decodeError(_ response: TestResponse) throws -> ErrorBody {
    #expect(response.headers[.contentType]?.hasPrefix("application/json") == true)
    return try JSONDecoder().decode(ErrorBody.self, from: Data(buffer: response.body))
}

@Suite struct HealthTests {
    @Test func healthzAndReadyz() async throws {
        let fixture = try await RuntimeFixture.make()
        defer { fixture.remove() }
        try await fixture.application().test(.live) { client in
            try await client.execute(uri: "/healthz", method: .get) { response in
                #expect(response.status == .ok)
                #expect(String(buffer: response.body) == "ok")
            }
            try await client.execute(uri: "/readyz", method: .get) { response in
                #expect(response.status == .ok)
            }
            // The database goes away: not ready, in API.md's error shape, and never a crash.
            try await fixture.store.close()
            try await client.execute(uri: "/readyz", method: .get) { response in
                #expect(response.status == .serviceUnavailable)
                let code = try decodeError(response).error
                #expect(code == "not_ready")
            }
            try await client.execute(uri: "/healthz", method: .get) { response in
                #expect(response.status == .ok)
            }
        }
    }
}

@Suite struct CatalogAPITests {
    struct ProductBody: Decodable {
        struct VariantBody: Decodable {
            let sku: String
            let title: String
            let price_cents: Int
            let stock: Int
        }
        let handle: String
        let title: String
        let currency: String
        let variants: [VariantBody]
    }

    @Test func productByHandle() async throws {
        let fixture = try await RuntimeFixture.make()
        defer { fixture.remove() }
        try await fixture.application().test(.live) { client in
            try await client.execute(uri: "/api/products/fig-bowl-print", method: .get) { response in
                #expect(response.status == .ok)
                #expect(response.headers[.contentType]?.hasPrefix("application/json") == true)
                #expect(response.headers[.cacheControl] == "no-store")
                let product = try JSONDecoder().decode(ProductBody.self, from: Data(buffer: response.body))
                #expect(product.handle == "fig-bowl-print")
                #expect(product.title == "Fig in a Red Bowl")
                #expect(product.currency == "EUR")
                #expect(product.variants.count == 6)
                let first = try #require(product.variants.first)
                #expect(first.sku == "LP-FIG-A4")
                #expect(first.title == "A4 / No frame")
                #expect(first.price_cents == 2400)
                #expect(first.stock == 12)
                // Exactly the documented keys: nothing stored but not promised leaks out.
                let object = try #require(try JSONSerialization.jsonObject(with: Data(buffer: response.body)) as? [String: Any])
                #expect(Set(object.keys) == ["handle", "title", "currency", "variants"])
                let variant = try #require((object["variants"] as? [[String: Any]])?.first)
                #expect(Set(variant.keys) == ["sku", "title", "price_cents", "stock"])
            }
        }
    }

    @Test func unknownUnpublishedAndHostileHandlesAre404() async throws {
        let fixture = try await RuntimeFixture.make()
        defer { fixture.remove() }
        try await fixture.application().test(.live) { client in
            for uri in ["/api/products/no-such-thing", "/api/products/sunset-hills-print", "/api/products/%3Cscript%3E",
                        "/api/products/FIG-BOWL-PRINT", "/api/products/" + String(repeating: "a", count: 5000)] {
                try await client.execute(uri: uri, method: .get) { response in
                    #expect(response.status == .notFound, "\(uri)")
                    let code = try decodeError(response).error
                    #expect(code == "not_found")
                }
            }
            try await client.execute(uri: "/api/nothing/here", method: .get) { response in
                #expect(response.status == .notFound)
                let code = try decodeError(response).error
                #expect(code == "not_found")
            }
        }
    }

    @Test func stockOfSKUs() async throws {
        let fixture = try await RuntimeFixture.make()
        defer { fixture.remove() }
        try await fixture.application().test(.live) { client in
            // Unknown SKUs and SKUs of unpublished products are left out.
            try await client.execute(uri: "/api/stock?skus=LP-FIG-A4,LP-FIG-A2-OAK,nope,LP-SUN-A4", method: .get) { response in
                #expect(response.status == .ok)
                let body = try JSONDecoder().decode([String: [String: Int]].self, from: Data(buffer: response.body))
                #expect(body == ["stock": ["LP-FIG-A4": 12, "LP-FIG-A2-OAK": 0]])
            }
            try await client.execute(uri: "/api/stock?skus=", method: .get) { response in
                #expect(response.status == .ok)
                #expect(String(buffer: response.body) == #"{"stock":{}}"#)
            }
        }
    }

    @Test func stockRejectsBadQueries() async throws {
        let fixture = try await RuntimeFixture.make()
        defer { fixture.remove() }
        let tooMany = (1...201).map { "SKU\($0)" }.joined(separator: ",")
        let cases: [(String, String)] = [
            ("/api/stock", "missing_skus"),
            ("/api/stock?skus=\(tooMany)", "too_many_skus"),
            ("/api/stock?skus=\(String(repeating: "x", count: 300))", "invalid_sku"),
        ]
        try await fixture.application().test(.live) { client in
            for (uri, expected) in cases {
                try await client.execute(uri: uri, method: .get) { response in
                    #expect(response.status == .badRequest)
                    let code = try decodeError(response).error
                    #expect(code == expected)
                }
            }
            // 200 distinct SKUs is the limit, not over it.
            let atLimit = (1...200).map { "SKU\($0)" }.joined(separator: ",")
            try await client.execute(uri: "/api/stock?skus=\(atLimit)", method: .get) { response in
                #expect(response.status == .ok)
            }
        }
    }
}

/// The catalog API answers from memory while the catalog's revision holds (CatalogCache).
@Suite struct CatalogCacheAPITests {
    typealias ProductBody = CatalogAPITests.ProductBody

    static func product(_ client: some TestClientProtocol, _ handle: String = "fig-bowl-print") async throws -> ProductBody? {
        try await client.execute(uri: "/api/products/\(handle)", method: .get) { response in
            guard response.status == .ok else {
                #expect(response.status == .notFound)
                return nil
            }
            return try JSONDecoder().decode(ProductBody.self, from: Data(buffer: response.body))
        }
    }

    static func stock(_ client: some TestClientProtocol, _ skus: String) async throws -> [String: Int] {
        try await client.execute(uri: "/api/stock?skus=\(skus)", method: .get) { response in
            #expect(response.status == .ok)
            return try JSONDecoder().decode([String: [String: Int]].self, from: Data(buffer: response.body))["stock"] ?? [:]
        }
    }

    @Test func answersFollowEveryCommittedChangeWhoeverWroteIt() async throws {
        let fixture = try await RuntimeFixture.make()
        defer { fixture.remove() }
        // Another process's store on the same file, as `ishop import` beside a running runtime.
        let other = try SQLiteStore(path: fixture.opened.location)
        try await fixture.application().test(.live) { client in
            for _ in 0..<2 {  // the second answer comes from memory
                let product = try #require(try await Self.product(client))
                #expect(product.title == "Fig in a Red Bowl")
                #expect(product.variants.first?.price_cents == 2400 && product.variants.first?.stock == 12)
                #expect(try await Self.stock(client, "LP-FIG-A4,nope") == ["LP-FIG-A4": 12])
            }

            var fig = try #require(try await other.product(handle: "fig-bowl-print"))
            fig.title = "Fig, Red Bowl"
            fig.variants[0].priceCents = 2600
            _ = try await other.upsert([fig])
            let changed = try #require(try await Self.product(client))
            #expect(changed.title == "Fig, Red Bowl" && changed.variants.first?.price_cents == 2600)

            _ = try await other.updateVariant(sku: "LP-FIG-A4", stock: 10, priceCents: nil, now: 1)
            #expect(try await Self.product(client)?.variants.first?.stock == 10)
            #expect(try await Self.stock(client, "LP-FIG-A4,nope") == ["LP-FIG-A4": 10])

            fig.published = false
            _ = try await other.upsert([fig])
            #expect(try await Self.product(client) == nil)
            #expect(try await Self.stock(client, "LP-FIG-A4,nope") == [:])

            // Published again, by an import whose file still says 12 (an import sets stock).
            fig.published = true
            _ = try await other.upsert([fig])
            #expect(try await Self.product(client)?.variants.first?.stock == 12)
            #expect(try await Self.stock(client, "LP-FIG-A4") == ["LP-FIG-A4": 12])

            // Through the runtime's own connection as well (as its admin route writes).
            _ = try await fixture.store.updateVariant(sku: "LP-FIG-A4", stock: 4, priceCents: 2100, now: 1)
            let edited = try #require(try await Self.product(client))
            #expect(edited.variants.first?.price_cents == 2100 && edited.variants.first?.stock == 4)
        }
        try await other.close()
    }

    @Test func answersComeFromMemoryUntilTheRevisionMoves() async throws {
        let fixture = try await RuntimeFixture.make()
        defer { fixture.remove() }
        try await fixture.application().test(.live) { client in
            #expect(try await Self.product(client)?.variants.first?.price_cents == 2400)
            #expect(try await Self.stock(client, "LP-FIG-A4,LP-FIG-A3") == ["LP-FIG-A4": 12, "LP-FIG-A3": 8])

            // A change made behind the revision's back (its trigger dropped): a runtime that read
            // the store on every request would show it at once.
            let database = try DatabaseQueue(path: fixture.opened.location)
            try await database.write { db in
                try db.execute(sql: """
                    DROP TRIGGER variants_revised_on_update;
                    UPDATE variants SET price_cents = 1, stock = 1 WHERE sku = 'LP-FIG-A4';
                    """)
            }
            #expect(try await Self.product(client)?.variants.first?.price_cents == 2400)
            #expect(try await Self.stock(client, "LP-FIG-A4,LP-FIG-A3") == ["LP-FIG-A4": 12, "LP-FIG-A3": 8])
            // A SKU not asked before is read, with the others, in one statement.
            #expect(try await Self.stock(client, "LP-FIG-A4,LP-FIG-A3,LP-FIG-A2-OAK") == ["LP-FIG-A4": 1, "LP-FIG-A3": 8, "LP-FIG-A2-OAK": 0])

            // Once the revision moves, everything kept is dropped and read again.
            try await database.write { db in try db.execute(sql: "UPDATE catalog_revision SET revision = revision + 1") }
            let product = try #require(try await Self.product(client))
            #expect(product.variants.first?.price_cents == 1 && product.variants.first?.stock == 1)
            #expect(try await Self.stock(client, "LP-FIG-A4") == ["LP-FIG-A4": 1])
            try database.close()
        }
    }
}

@Suite struct CORSTests {
    @Test func allowedOriginIsEchoedWithCredentials() async throws {
        let fixture = try await RuntimeFixture.make()
        defer { fixture.remove() }
        try await fixture.application().test(.live) { client in
            for origin in ["http://localhost:5173", "https://shop.example.com"] {
                try await client.execute(uri: "/api/stock?skus=LP-FIG-A4", method: .get, headers: [.origin: origin]) { response in
                    #expect(response.status == .ok)
                    #expect(response.headers[.accessControlAllowOrigin] == origin)
                    #expect(response.headers[.accessControlAllowCredentials] == "true")
                    #expect(response.headers[values: .vary].contains("Origin"))
                }
            }
            // Errors carry CORS headers too, or a browser front end could not read them.
            try await client.execute(uri: "/api/products/nope", method: .get, headers: [.origin: "http://localhost:3000"]) { response in
                #expect(response.status == .notFound)
                #expect(response.headers[.accessControlAllowOrigin] == "http://localhost:3000")
            }
        }
    }

    @Test func disallowedOriginsGetNoCORSHeaders() async throws {
        let fixture = try await RuntimeFixture.make()
        defer { fixture.remove() }
        let hostile = ["https://evil.example", "null", "https://shop.example.com.evil.example", "http://shop.example.com",
                       "https://evilshop.example.com", "http://localhost.evil.example:5173", "https://localhost:5173",
                       "https://shop.example.evil.com", "HTTPS://SHOP.EXAMPLE.COM.", "https://shop.example.com:8443"]
        try await fixture.application().test(.live) { client in
            for origin in hostile {
                try await client.execute(uri: "/api/stock?skus=LP-FIG-A4", method: .get, headers: [.origin: origin]) { response in
                    #expect(response.headers[.accessControlAllowOrigin] == nil, "\(origin)")
                    #expect(response.headers[.accessControlAllowCredentials] == nil, "\(origin)")
                }
                try await client.execute(uri: "/api/stock", method: .options,
                                         headers: [.origin: origin, .accessControlRequestMethod: "GET"]) { response in
                    #expect(response.status == .forbidden, "\(origin)")
                    #expect(response.headers[.accessControlAllowOrigin] == nil, "\(origin)")
                }
            }
        }
    }

    @Test func preflightFromAllowedOrigin() async throws {
        let fixture = try await RuntimeFixture.make()
        defer { fixture.remove() }
        try await fixture.application().test(.live) { client in
            try await client.execute(uri: "/api/cart/items", method: .options, headers: [
                .origin: "http://127.0.0.1:5173", .accessControlRequestMethod: "POST",
                .accessControlRequestHeaders: "content-type, x-cart-token",
            ]) { response in
                // 127.0.0.1 is not in this fixture's list: refused.
                #expect(response.status == .forbidden)
            }
            try await client.execute(uri: "/api/cart/items", method: .options, headers: [
                .origin: "http://localhost:5173", .accessControlRequestMethod: "POST",
            ]) { response in
                #expect(response.status == .noContent)
                #expect(response.headers[.accessControlAllowOrigin] == "http://localhost:5173")
                #expect(response.headers[.accessControlAllowCredentials] == "true")
                #expect(response.headers[.accessControlAllowMethods]?.contains("POST") == true)
                #expect(response.headers[.accessControlAllowHeaders]?.contains("X-Cart-Token") == true)
                #expect(response.headers[.accessControlMaxAge] != nil)
                #expect(response.headers[values: .vary].contains("Origin"))
            }
        }
    }
}

@Suite struct StaticSiteTests {
    @Test func servesTheBuiltSiteWithContentTypes() async throws {
        let fixture = try await RuntimeFixture.make()
        defer { fixture.remove() }
        try await fixture.application().test(.live) { client in
            try await client.execute(uri: "/", method: .get) { response in
                #expect(response.status == .ok)
                #expect(response.headers[.contentType]?.hasPrefix("text/html") == true)
                #expect(String(buffer: response.body).contains("<title>Home</title>"))
                #expect(response.headers[.init("X-Content-Type-Options")!] == "nosniff")
            }
            try await client.execute(uri: "/products/fig-bowl-print/", method: .get) { response in
                #expect(response.status == .ok)
                #expect(String(buffer: response.body).contains("<title>Fig</title>"))
            }
            try await client.execute(uri: "/products/fig-bowl-print", method: .get) { response in
                #expect(response.status == .movedPermanently)
                #expect(response.headers[.location] == "/products/fig-bowl-print/")
            }
            try await client.execute(uri: "/css/shop.css", method: .get) { response in
                #expect(response.status == .ok)
                #expect(response.headers[.contentType]?.hasPrefix("text/css") == true)
            }
            // A page that does not exist gets the site's own 404 page, with status 404.
            try await client.execute(uri: "/no/such/page/", method: .get) { response in
                #expect(response.status == .notFound)
                #expect(String(buffer: response.body).contains("NOT-FOUND-PAGE"))
            }
        }
    }

    @Test func pathTraversalNeverLeavesThePublicFolder() async throws {
        let fixture = try await RuntimeFixture.make()
        defer { fixture.remove() }
        // A secret beside public/ that no request may reach.
        try "SECRET".write(toFile: "\(fixture.directory)/secret.txt", atomically: true, encoding: .utf8)
        try await fixture.application().test(.live) { client in
            for uri in ["/../secret.txt", "/%2e%2e/secret.txt", "/css/..%2f..%2fsecret.txt", "/..%2Fsecret.txt",
                        "/css/%2e%2e/%2e%2e/secret.txt", "/../../../../etc/passwd"] {
                try await client.execute(uri: uri, method: .get) { response in
                    #expect(response.status == .badRequest || response.status == .notFound, "\(uri)")
                    #expect(!String(buffer: response.body).contains("SECRET"), "\(uri)")
                    #expect(!String(buffer: response.body).contains("root:"), "\(uri)")
                }
            }
        }
    }

    @Test func noStaticFilesWhenServeStaticIsOff() async throws {
        let fixture = try await RuntimeFixture.make()
        defer { fixture.remove() }
        try await fixture.application(serveStatic: false).test(.live) { client in
            try await client.execute(uri: "/", method: .get) { response in
                #expect(response.status == .notFound)
                let code = try decodeError(response).error
                #expect(code == "not_found")
            }
        }
    }
}

@Suite struct StartupChecksTests {
    func production(origins: [String]) -> RuntimeSettings {
        var settings = RuntimeSettings.defaults(for: "production")
        settings.allowedOrigins = origins
        return settings
    }

    let secret = ["ISHOP_JWT_SECRET": String(repeating: "k", count: 40)]

    @Test func productionRefusesWildcardsAndPlainHTTP() throws {
        #expect(throws: Runtime.StartupError.self) { try Runtime.checkSettings(production(origins: ["http://localhost:*"]), environment: secret) }
        #expect(throws: Runtime.StartupError.self) { try Runtime.checkSettings(production(origins: ["http://shop.example.com"]), environment: secret) }
        #expect(throws: Runtime.StartupError.self) { try Runtime.checkSettings(production(origins: ["*"]), environment: secret) }
        let policy = try Runtime.checkSettings(production(origins: ["https://shop.example.com"]), environment: secret)
        #expect(policy.allows("https://shop.example.com"))
    }

    @Test func productionNeedsALongEnoughJWTSecret() throws {
        let settings = production(origins: ["https://shop.example.com"])
        #expect(throws: Runtime.StartupError.self) { try Runtime.checkSettings(settings, environment: [:]) }
        #expect(throws: Runtime.StartupError.self) { try Runtime.checkSettings(settings, environment: ["ISHOP_JWT_SECRET": "short"]) }
        _ = try Runtime.checkSettings(settings, environment: secret)
        // Development tolerates both, as a developer's machine must.
        _ = try Runtime.checkSettings(RuntimeSettings.defaults(for: "development"), environment: [:])
    }
}

@Suite("Housekeeping")
struct HousekeepingServiceTests {
    @Test("A pass removes guest carts untouched for guestCartDays and keeps younger ones", arguments: Backend.available)
    func sweepsByDays(backend: Backend) async throws {
        let fixture = try await RuntimeFixture.make(backend)
        defer { fixture.remove() }
        let day: Int64 = 86_400
        let now: Int64 = 1_000 * day
        let limits = CartLimits()
        let old = CartOwner.guest(tokenHash: "eight-days"), young = CartOwner.guest(tokenHash: "six-days")
        #expect(try await fixture.store.addToCart(old, sku: "LP-FIG-A4", quantity: 1, limits: limits, now: now - 8 * day) == .updated)
        #expect(try await fixture.store.addToCart(young, sku: "LP-FIG-A4", quantity: 1, limits: limits, now: now - 6 * day) == .updated)
        let housekeeping = Housekeeping(store: fixture.store, guestCartDays: 7, logger: Logger(label: "test"))
        let removed = await housekeeping.sweep(now: now)
        #expect(removed?.guestCarts == 1)
        #expect(try await fixture.store.cart(of: old) == nil)
        #expect(try await fixture.store.cart(of: young) != nil)
        try await fixture.store.close()
    }
}
