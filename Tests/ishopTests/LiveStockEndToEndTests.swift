import AsyncHTTPClient
import Foundation
import NIOHTTP1
import ShopTestSupport
import Testing

/// Issue 7, end to end: three `ishop serve` processes on one PostgreSQL database, WebSocket
/// clients on each, stock changed through all three; then one instance stops and its clients move.
@Suite(.serialized) struct LiveStockEndToEndTests {
    static let skus = ["LP-FIG-A4", "LP-FIG-A3", "LP-WINE-A4", "LP-DAND-A4", "LP-BIRD-A4", "LP-BIRD-A2"]
    /// One signing secret for the cluster: a token from one instance is good on every instance.
    static let environment = ["ISHOP_JWT_SECRET": String(repeating: "s3cret-", count: 6)]

    @Test(.enabled(if: Backend.postgresAdminURL != nil, "needs PostgreSQL (scripts/test starts one)"))
    func threeInstancesShareLiveStock() async throws {
        let shop = try Shop.copyExample()
        defer { shop.remove() }
        let database = try await Backend.freshDatabase()
        let imported = try shop.run(["import", "shopify", "catalog/products.csv", "--database", database])
        #expect(imported.status == 0, "\(imported.stderr)")
        let admin = try shop.run(["user", "create", "--email", "owner@example.com", "--admin", "--database", database],
                                 input: "correct horse battery\n")
        #expect(admin.status == 0, "\(admin.stderr)")

        let servers = try (0..<3).map { _ in
            try RunningServer(shop: shop, arguments: ["--database", database, "--host", "127.0.0.1", "--log-level", "debug"], environment: Self.environment)
        }
        defer { for server in servers where server.process.isRunning { _ = server.stop() } }
        let login = try await servers[0].get("/api/auth/login", method: .POST, headers: [("Content-Type", "application/json")],
                                             body: #"{"email":"owner@example.com","password":"correct horse battery"}"#)
        #expect(login.status == 200)
        let token = try #require((try JSONSerialization.jsonObject(with: Data(login.body.utf8)) as? [String: Any])?["access_token"] as? String)

        // Two clients per instance: one on every SKU of the test, one on half of them.
        var feeds: [(server: Int, skus: [String], feed: StockFeed)] = []
        for (index, server) in servers.enumerated() {
            feeds.append((index, Self.skus, StockFeed.open(port: server.port, subscribe: Self.skus)))
            let half = Array(Self.skus.prefix(3))
            feeds.append((index, half, StockFeed.open(port: server.port, subscribe: half)))
        }
        for server in servers {
            #expect(await eventually { (try? await server.get("/metrics").body.contains("ishop_websocket_connections_open 2")) == true })
        }

        // 500 admin edits, spread over the three instances, eight at a time.
        try await Self.patch(servers: servers, token: token, count: 500, seed: 0)
        let truth = try await Self.currentStock(servers[1])
        for (server, skus, feed) in feeds {
            let wanted = truth.filter { skus.contains($0.key) }
            #expect(await eventually { feed.latest.filter { skus.contains($0.key) } == wanted }, "a client of instance \(server) ends with every final value")
            #expect(feed.seqNeverDecreases, "seq never goes backwards on a client of instance \(server)")
        }

        // Instance 2 stops; its clients come back on instance 0 with ?since= and miss nothing,
        // including the changes made while they were away.
        #expect(servers[2].stop() == 0)
        let moved = feeds.filter { $0.server == 2 }
        for entry in moved { await entry.feed.waitUntilEnded() }
        try await Self.patch(servers: Array(servers.prefix(2)), token: token, count: 60, seed: 1)
        var resumed: [(skus: [String], feed: StockFeed, since: Int64)] = []
        for entry in moved {
            let since = try #require(entry.feed.lastSeq)
            resumed.append((entry.skus, StockFeed.open(port: servers[0].port, query: "?since=\(since)", subscribe: entry.skus), since))
        }
        try await Self.patch(servers: Array(servers.prefix(2)), token: token, count: 40, seed: 2)
        let final = try await Self.currentStock(servers[0])
        for (skus, feed, since) in resumed {
            let wanted = final.filter { skus.contains($0.key) }
            #expect(await eventually { feed.latest.filter { skus.contains($0.key) } == wanted }, "a moved client ends with every final value")
            #expect(feed.seqNeverDecreases)
            #expect(feed.messages.allSatisfy { $0.seq > since })
        }
        for (server, skus, feed) in feeds where server != 2 {
            let wanted = final.filter { skus.contains($0.key) }
            #expect(await eventually { feed.latest.filter { skus.contains($0.key) } == wanted })
        }
        for entry in feeds { entry.feed.close() }
        for entry in resumed { entry.feed.close() }
    }

    static func patch(servers: [RunningServer], token: String, count: Int, seed: Int) async throws {
        try await withThrowingTaskGroup(of: Void.self) { group in
            for worker in 0..<8 {
                group.addTask {
                    for change in stride(from: worker, to: count, by: 8) {
                        let server = servers[change % servers.count]
                        let sku = skus[(change * 7 + seed) % skus.count]
                        let response = try await server.get("/api/admin/variants/\(sku)", method: .PATCH,
                                                            headers: [("Content-Type", "application/json"), ("Authorization", "Bearer \(token)")],
                                                            body: #"{"stock":\#((change * 13 + seed * 101) % 997)}"#)
                        #expect(response.status == 200)
                    }
                }
            }
            try await group.waitForAll()
        }
    }

    static func currentStock(_ server: RunningServer) async throws -> [String: Int] {
        let response = try await server.get("/api/stock?skus=\(skus.joined(separator: ","))")
        let body = try #require(try JSONSerialization.jsonObject(with: Data(response.body.utf8)) as? [String: Any])
        return try #require(body["stock"] as? [String: Int])
    }
}
