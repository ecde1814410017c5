import AsyncHTTPClient
import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import JWTKit
import NIOCore
@testable import ShopRuntime
import ShopStore
import ShopTestSupport
import Testing

// MARK: Helpers

func jsonBody(_ object: [String: Any]) -> ByteBuffer {
    ByteBuffer(data: try! JSONSerialization.data(withJSONObject: object))
}

func object(_ response: TestResponse) throws -> [String: Any] {
    try #require(try JSONSerialization.jsonObject(with: Data(buffer: response.body)) as? [String: Any])
}

let jsonHeaders: HTTPFields = [.contentType: "application/json"]

func headers(_ pairs: [(HTTPField.Name, String)]) -> HTTPFields {
    var fields = jsonHeaders
    for (name, value) in pairs { fields[name] = value }
    return fields
}

struct Session {
    let access: String
    let refresh: String
    var bearer: (HTTPField.Name, String) { (.authorization, "Bearer \(access)") }
}

extension TestClientProtocol {
    @discardableResult
    func register(_ email: String, _ password: String = "correct horse battery") async throws -> TestResponse {
        try await execute(uri: "/api/auth/register", method: .post, headers: jsonHeaders,
                          body: jsonBody(["email": email, "password": password])) { $0 }
    }

    func login(_ email: String, _ password: String = "correct horse battery", extra: [(HTTPField.Name, String)] = []) async throws -> Session {
        let response = try await execute(uri: "/api/auth/login", method: .post, headers: headers(extra),
                                         body: jsonBody(["email": email, "password": password])) { $0 }
        #expect(response.status == .ok)
        let body = try object(response)
        return Session(access: try #require(body["access_token"] as? String), refresh: try #require(body["refresh_token"] as? String))
    }

    func signedUp(_ email: String) async throws -> Session {
        try await register(email)
        return try await login(email)
    }
}

extension HTTPField.Name {
    static let xCartTokenTest = Self("X-Cart-Token")!
    static let idempotencyKeyTest = Self("Idempotency-Key")!
    static let xRequestedWithTest = Self("X-Requested-With")!
}

// MARK: Auth

@Suite struct AuthAPITests {
    @Test(arguments: Backend.available) func registerLoginRefreshLogout(backend: Backend) async throws {
        let fixture = try await RuntimeFixture.make(backend)
        defer { fixture.remove() }
        try await fixture.application().test(.live) { client in
            let registered = try await client.register("Shopper@Example.com")
            #expect(registered.status == .created)
            let account = try object(registered)
            #expect(account["email"] as? String == "shopper@example.com")
            #expect(Set(account.keys) == ["id", "email"])

            #expect(try await client.register("shopper@example.com").status == .conflict)
            let taken = try decodeError(try await client.register("SHOPPER@example.com"))
            #expect(taken.error == "email_taken")

            let response = try await client.execute(uri: "/api/auth/login", method: .post, headers: jsonHeaders,
                                                    body: jsonBody(["email": "shopper@example.com", "password": "correct horse battery"])) { $0 }
            #expect(response.status == .ok)
            #expect(response.headers[.cacheControl] == "no-store")
            let body = try object(response)
            #expect(body["token_type"] as? String == "Bearer")
            #expect(body["expires_in"] as? Int == 900)
            let cookie = try #require(response.headers[.setCookie])
            #expect(cookie.contains("ishop_refresh=\(body["refresh_token"] as! String)"))
            #expect(cookie.contains("HttpOnly") && cookie.contains("SameSite=Lax") && cookie.contains("Path=/api/auth"))
            #expect(!cookie.contains("Secure"), "development serves plain http")

            let refreshed = try await client.execute(uri: "/api/auth/refresh", method: .post, headers: jsonHeaders,
                                                     body: jsonBody(["refresh_token": body["refresh_token"]!])) { $0 }
            #expect(refreshed.status == .ok)
            let pair = try object(refreshed)
            #expect(pair["refresh_token"] as? String != body["refresh_token"] as? String)

            let out = try await client.execute(uri: "/api/auth/logout", method: .post, headers: jsonHeaders,
                                               body: jsonBody(["refresh_token": pair["refresh_token"]!])) { $0 }
            #expect(out.status == .noContent)
            let after = try await client.execute(uri: "/api/auth/refresh", method: .post, headers: jsonHeaders,
                                                 body: jsonBody(["refresh_token": pair["refresh_token"]!])) { $0 }
            #expect(after.status == .unauthorized)
            #expect(try decodeError(after).error == "invalid_refresh_token")
        }
    }

    @Test(arguments: Backend.available) func weakOrInvalidRegistrationsAre422NamingTheField(backend: Backend) async throws {
        let fixture = try await RuntimeFixture.make(backend)
        defer { fixture.remove() }
        try await fixture.application().test(.live) { client in
            let cases: [([String: Any], String)] = [
                (["email": "a@example.com", "password": "short"], "password"),
                (["email": "a@example.com", "password": String(repeating: "é", count: 37)], "password"),
                (["email": "a@example.com", "password": "ten chars\u{0}xx"], "password"),
                (["email": "not-an-email", "password": "long enough password"], "email"),
                (["email": "a@example.com"], "password"),
                (["email": 42, "password": "long enough password"], "email"),
                (["email": "a@example.com", "password": ["x"]], "password"),
            ]
            for (body, field) in cases {
                let response = try await client.execute(uri: "/api/auth/register", method: .post, headers: jsonHeaders, body: jsonBody(body)) { $0 }
                #expect(response.status == .unprocessableContent, "\(body)")
                let error = try object(response)
                #expect(error["field"] as? String == field, "\(body)")
                #expect(error["error"] as? String == "invalid_field")
            }
        }
    }

    @Test(arguments: Backend.available) func loginFailsTheSameWayForUnknownEmailAndWrongPassword(backend: Backend) async throws {
        let fixture = try await RuntimeFixture.make(backend)
        defer { fixture.remove() }
        try await fixture.application().test(.live) { client in
            try await client.register("known@example.com")
            var bodies: [String] = []
            for (email, password) in [("known@example.com", "wrong password!"), ("unknown@example.com", "wrong password!"),
                                      ("known@example.com", "correct horse battery" + String(repeating: "x", count: 60))] {
                let response = try await client.execute(uri: "/api/auth/login", method: .post, headers: jsonHeaders,
                                                        body: jsonBody(["email": email, "password": password])) { $0 }
                #expect(response.status == .unauthorized)
                bodies.append(String(buffer: response.body))
            }
            #expect(Set(bodies).count == 1, "one answer whether or not the account exists")
        }
    }

    @Test(arguments: Backend.available) func refreshReplayWithinGraceReturnsTheSamePair(backend: Backend) async throws {
        let fixture = try await RuntimeFixture.make(backend)
        defer { fixture.remove() }
        try await fixture.application().test(.live) { client in
            let session = try await client.signedUp("tabs@example.com")
            var answers: [[String: Any]] = []
            for _ in 0..<2 {
                let response = try await client.execute(uri: "/api/auth/refresh", method: .post, headers: jsonHeaders,
                                                        body: jsonBody(["refresh_token": session.refresh])) { $0 }
                #expect(response.status == .ok)
                answers.append(try object(response))
            }
            #expect(answers[0]["refresh_token"] as? String == answers[1]["refresh_token"] as? String)
            #expect(answers[0]["access_token"] as? String == answers[1]["access_token"] as? String)
            // The new pair works.
            let next = try await client.execute(uri: "/api/auth/refresh", method: .post, headers: jsonHeaders,
                                                body: jsonBody(["refresh_token": answers[0]["refresh_token"]!])) { $0 }
            #expect(next.status == .ok)
        }
    }

    @Test(arguments: Backend.available) func refreshReuseAfterGraceRevokesTheFamily(backend: Backend) async throws {
        let fixture = try await RuntimeFixture.make(backend)
        defer { fixture.remove() }
        // No grace window at all, so the test needs no clock: any reuse is theft.
        try await fixture.application(configure: { $0.refreshGraceSeconds = -1 }).test(.live) { client in
            let session = try await client.signedUp("stolen@example.com")
            let first = try await client.execute(uri: "/api/auth/refresh", method: .post, headers: jsonHeaders,
                                                 body: jsonBody(["refresh_token": session.refresh])) { $0 }
            #expect(first.status == .ok)
            let successor = try #require(try object(first)["refresh_token"] as? String)
            let reuse = try await client.execute(uri: "/api/auth/refresh", method: .post, headers: jsonHeaders,
                                                 body: jsonBody(["refresh_token": session.refresh])) { $0 }
            #expect(reuse.status == .unauthorized)
            let revoked = try await client.execute(uri: "/api/auth/refresh", method: .post, headers: jsonHeaders,
                                                   body: jsonBody(["refresh_token": successor])) { $0 }
            #expect(revoked.status == .unauthorized, "the whole family is revoked")
        }
    }

    @Test(arguments: Backend.available) func refreshByCookieNeedsTheCSRFHeaderAndAnAllowedOrigin(backend: Backend) async throws {
        let fixture = try await RuntimeFixture.make(backend)
        defer { fixture.remove() }
        try await fixture.application().test(.live) { client in
            let session = try await client.signedUp("cookie@example.com")
            let cookie = "ishop_refresh=\(session.refresh)"
            let refused: [HTTPFields] = [
                [.cookie: cookie],
                [.cookie: cookie, .xRequestedWithTest: "XMLHttpRequest"],
                [.cookie: cookie, .xRequestedWithTest: "ishop", .origin: "https://evil.example"],
                [.cookie: cookie, .xRequestedWithTest: "ishop", .origin: "null"],
                [.cookie: cookie, .xRequestedWithTest: "ishop", .init("Sec-Fetch-Site")!: "cross-site"],
            ]
            for fields in refused {
                let response = try await client.execute(uri: "/api/auth/refresh", method: .post, headers: fields) { $0 }
                #expect(response.status == .forbidden, "\(fields)")
                #expect(try decodeError(response).error == "csrf_check_failed")
            }
            let allowed = try await client.execute(uri: "/api/auth/refresh", method: .post, headers: [
                .cookie: cookie, .xRequestedWithTest: "ishop", .origin: "http://localhost:5173",
            ]) { $0 }
            #expect(allowed.status == .ok)
            #expect(allowed.headers[.accessControlAllowOrigin] == "http://localhost:5173")
            #expect(allowed.headers[.setCookie]?.hasPrefix("ishop_refresh=") == true)
            let renewed = try #require(try object(allowed)["refresh_token"] as? String)

            // Signing out by cookie: the same CSRF rule, then the cookie is cleared and the session is gone.
            let forged = try await client.execute(uri: "/api/auth/logout", method: .post, headers: [.cookie: "ishop_refresh=\(renewed)"]) { $0 }
            #expect(forged.status == .forbidden)
            let out = try await client.execute(uri: "/api/auth/logout", method: .post, headers: [
                .cookie: "ishop_refresh=\(renewed)", .xRequestedWithTest: "ishop", .init("Sec-Fetch-Site")!: "same-origin",
            ]) { $0 }
            #expect(out.status == .noContent)
            #expect(out.headers[.setCookie]?.contains("Max-Age=0") == true)
            let gone = try await client.execute(uri: "/api/auth/refresh", method: .post, headers: jsonHeaders,
                                                body: jsonBody(["refresh_token": renewed])) { $0 }
            #expect(gone.status == .unauthorized)
        }
    }

    @Test(arguments: Backend.available) func forgedExpiredAndWrongRoleTokensAreRefused(backend: Backend) async throws {
        let fixture = try await RuntimeFixture.make(backend)
        defer { fixture.remove() }
        try await fixture.application().test(.live) { client in
            let session = try await client.signedUp("plain@example.com")
            let claims = try #require(session.access.split(separator: ".").dropFirst().first)
            func base64URL(_ text: String) -> String { Secrets.base64URL(Array(text.utf8)) }
            let noneToken = base64URL(#"{"alg":"none","typ":"JWT"}"#) + "." + claims + "."
            let hs512 = base64URL(#"{"alg":"HS512","typ":"JWT"}"#) + "." + claims + "." + session.access.split(separator: ".")[2]
            let otherSecret = AccessTokens(secret: Array("another-secret-of-at-least-32-bytes-long".utf8), lifetimeSeconds: 900)
            let wrongSignature = try await otherSecret.sign(userID: "x", role: .admin, issuedAt: AuthService.now(), tokenID: "a")
            let ours = AccessTokens(secret: RuntimeFixture.secret, lifetimeSeconds: 900)
            let expired = try await ours.sign(userID: "x", role: .admin, issuedAt: AuthService.now() - 3600, tokenID: "b")
            let notYetValid = try await ours.sign(userID: "x", role: .admin, issuedAt: AuthService.now() + 3600, tokenID: "c")
            var tampered = Array(session.access)
            tampered[tampered.count - 2] = tampered[tampered.count - 2] == "A" ? "B" : "A"
            for token in [noneToken, hs512, wrongSignature, expired, notYetValid, String(tampered), "garbage", ""] {
                let response = try await client.execute(uri: "/api/cart", method: .get, headers: [.authorization: "Bearer \(token)"]) { $0 }
                #expect(response.status == .unauthorized, "\(token)")
                #expect(try decodeError(response).error == "invalid_token")
            }
            // A valid customer token on an admin route: 403, not 401.
            let patch = try await client.execute(uri: "/api/admin/variants/LP-FIG-A4", method: .patch, headers: headers([session.bearer]),
                                                 body: jsonBody(["stock": 1])) { $0 }
            #expect(patch.status == .forbidden)
            let anonymous = try await client.execute(uri: "/api/admin/variants/LP-FIG-A4", method: .patch, headers: jsonHeaders,
                                                     body: jsonBody(["stock": 1])) { $0 }
            #expect(anonymous.status == .unauthorized)
        }
    }

    @Test(arguments: Backend.available) func loginIsRateLimitedPerAddressAndPerAccount(backend: Backend) async throws {
        let fixture = try await RuntimeFixture.make(backend)
        defer { fixture.remove() }
        try await fixture.application(configure: {
            $0.authRateLimitPerIP = .init(perMinute: 1, burst: 3)
        }).test(.live) { client in
            var statuses: [HTTPResponse.Status] = []
            for index in 0..<4 {
                let response = try await client.execute(uri: "/api/auth/login", method: .post, headers: jsonHeaders,
                                                        body: jsonBody(["email": "x\(index)@example.com", "password": "whatever it is"])) { $0 }
                statuses.append(response.status)
                if response.status == .tooManyRequests {
                    #expect(Int(response.headers[.retryAfter] ?? "") ?? 0 >= 1)
                    #expect(try decodeError(response).error == "rate_limited")
                }
            }
            #expect(statuses == [.unauthorized, .unauthorized, .unauthorized, .tooManyRequests])
            // X-Forwarded-For from an untrusted peer changes nothing.
            let spoofed = try await client.execute(uri: "/api/auth/login", method: .post,
                                                   headers: headers([(.init("X-Forwarded-For")!, "203.0.113.9")]),
                                                   body: jsonBody(["email": "y@example.com", "password": "whatever it is"])) { $0 }
            #expect(spoofed.status == .tooManyRequests)
        }
        try await fixture.application(configure: {
            $0.trustedProxies = ["127.0.0.1"]
            $0.authRateLimitPerIP = .init(perMinute: 1, burst: 1)
            $0.authRateLimitPerAccount = .init(perMinute: 1, burst: 2)
        }).test(.live) { client in
            // Behind a trusted proxy each forwarded client has its own bucket...
            for index in 0..<3 {
                let response = try await client.execute(uri: "/api/auth/login", method: .post,
                                                        headers: headers([(.init("X-Forwarded-For")!, "198.51.100.\(index)")]),
                                                        body: jsonBody(["email": "target@example.com", "password": "guess number \(index)"])) { $0 }
                // ...but one account is limited whatever the address: the third guess is refused.
                #expect(response.status == (index < 2 ? .unauthorized : .tooManyRequests), "\(index)")
            }
        }
    }
}

// MARK: Carts and checkout

@Suite struct CartAPITests {
    @Test(arguments: Backend.available) func guestCartByTokenThenMergedAtSignIn(backend: Backend) async throws {
        let fixture = try await RuntimeFixture.make(backend)
        defer { fixture.remove() }
        try await fixture.application().test(.live) { client in
            let empty = try await client.execute(uri: "/api/cart", method: .get) { $0 }
            #expect(empty.status == .ok)
            #expect(String(buffer: empty.body) == #"{"currency":"EUR","id":null,"items":[],"subtotal_cents":0}"#)

            let added = try await client.execute(uri: "/api/cart/items", method: .post, headers: jsonHeaders,
                                                 body: jsonBody(["sku": "LP-FIG-A4", "quantity": 2])) { $0 }
            #expect(added.status == .ok)
            let token = try #require(added.headers[.xCartTokenTest])
            #expect(token.count == 22, "128 bits, URL-safe base64")
            var cart = try object(added)
            #expect(cart["subtotal_cents"] as? Int == 4800)
            let line = try #require((cart["items"] as? [[String: Any]])?.first)
            #expect(line["unit_price_cents"] as? Int == 2400)
            #expect(line["line_total_cents"] as? Int == 4800)
            #expect(line["title"] as? String == "Fig in a Red Bowl – A4 / No frame")

            let more = try await client.execute(uri: "/api/cart/items", method: .post, headers: headers([(.xCartTokenTest, token)]),
                                                body: jsonBody(["sku": "LP-FIG-A4", "quantity": 1, "price_cents": 1])) { $0 }
            cart = try object(more)
            #expect((cart["items"] as? [[String: Any]])?.first?["quantity"] as? Int == 3)
            #expect(cart["subtotal_cents"] as? Int == 7200, "a price sent by the client is ignored")
            #expect(more.headers[.xCartTokenTest] == nil, "the token is given once")

            let patched = try await client.execute(uri: "/api/cart/items/LP-FIG-A4", method: .patch, headers: headers([(.xCartTokenTest, token)]),
                                                   body: jsonBody(["quantity": 5])) { $0 }
            #expect((try object(patched)["items"] as? [[String: Any]])?.first?["quantity"] as? Int == 5)

            // Bounds: 1..99 per line; unknown SKUs; a token that matches nothing.
            for (body, field) in [(["sku": "LP-FIG-A4", "quantity": 0], "quantity"), (["sku": "LP-FIG-A4", "quantity": 100], "quantity"),
                                  (["sku": "LP-FIG-A4", "quantity": "1"], "quantity"), (["sku": "", "quantity": 1], "sku"),
                                  (["sku": "LP-FIG-A4", "quantity": 95], "quantity")] as [([String: Any], String)] {
                let response = try await client.execute(uri: "/api/cart/items", method: .post, headers: headers([(.xCartTokenTest, token)]),
                                                        body: jsonBody(body)) { $0 }
                #expect(response.status == .unprocessableContent, "\(body)")
                #expect(try object(response)["field"] as? String == field, "\(body)")
            }
            let unknown = try await client.execute(uri: "/api/cart/items", method: .post, headers: headers([(.xCartTokenTest, token)]),
                                                   body: jsonBody(["sku": "NO-SUCH", "quantity": 1])) { $0 }
            #expect(unknown.status == .notFound)
            #expect(try object(unknown)["sku"] as? String == "NO-SUCH")
            for guess in ["AAAAAAAAAAAAAAAAAAAAAA", "short", String(token.dropLast()) + "x"] {
                let response = try await client.execute(uri: "/api/cart", method: .get, headers: [.xCartTokenTest: guess]) { $0 }
                #expect(response.status == .notFound, "\(guess)")
            }

            // Signing in with the token merges the guest cart into the user's.
            try await client.register("merge@example.com")
            let session = try await client.login("merge@example.com", extra: [(.xCartTokenTest, token)])
            let mine = try await client.execute(uri: "/api/cart", method: .get, headers: [.authorization: "Bearer \(session.access)"]) { $0 }
            #expect(mine.headers[.cacheControl] == "no-store")
            let merged = try object(mine)
            #expect((merged["items"] as? [[String: Any]])?.first?["quantity"] as? Int == 5)
            let gone = try await client.execute(uri: "/api/cart", method: .get, headers: [.xCartTokenTest: token]) { $0 }
            #expect(gone.status == .notFound, "the guest cart is gone after the merge")

            let removed = try await client.execute(uri: "/api/cart/items/LP-FIG-A4", method: .delete,
                                                   headers: [.authorization: "Bearer \(session.access)"]) { $0 }
            #expect(removed.status == .ok)
            #expect((try object(removed)["items"] as? [Any])?.isEmpty == true)
        }
    }

    @Test(arguments: Backend.available) func checkoutPlacesOneOrderPerKeyAndPublishesStock(backend: Backend) async throws {
        let fixture = try await RuntimeFixture.make(backend)
        defer { fixture.remove() }
        let hub = fixture.hub
        let events = hub.events()
        let metrics = RuntimeMetrics()
        try await fixture.application(events: hub, metrics: metrics).test(.live) { client in
            let anonymous = try await client.execute(uri: "/api/checkout", method: .post, headers: [.idempotencyKeyTest: "k"]) { $0 }
            #expect(anonymous.status == .unauthorized)

            let session = try await client.signedUp("buyer@example.com")
            let bearer: HTTPFields = [.authorization: "Bearer \(session.access)"]
            let empty = try await client.execute(uri: "/api/checkout", method: .post, headers: bearer + [.idempotencyKeyTest: "k0"]) { $0 }
            #expect(empty.status == .unprocessableContent)
            #expect(try decodeError(empty).error == "cart_empty")

            _ = try await client.execute(uri: "/api/cart/items", method: .post, headers: headers([session.bearer]),
                                         body: jsonBody(["sku": "LP-FIG-A4", "quantity": 2])) { $0 }
            let noKey = try await client.execute(uri: "/api/checkout", method: .post, headers: bearer) { $0 }
            #expect(noKey.status == .badRequest)
            #expect(try decodeError(noKey).error == "missing_idempotency_key")

            let placed = try await client.execute(uri: "/api/checkout", method: .post, headers: bearer + [.idempotencyKeyTest: "order-1"]) { $0 }
            #expect(placed.status == .created)
            let order = try object(placed)
            #expect(order["total_cents"] as? Int == 4800)
            #expect(order["currency"] as? String == "EUR")
            #expect(Set(order.keys) == ["order_id", "total_cents", "currency", "items"])

            let again = try await client.execute(uri: "/api/checkout", method: .post, headers: bearer + [.idempotencyKeyTest: "order-1"]) { $0 }
            #expect(again.status == .created)
            #expect(try object(again)["order_id"] as? String == order["order_id"] as? String)

            let stock = try await client.execute(uri: "/api/stock?skus=LP-FIG-A4", method: .get) { $0 }
            #expect(String(buffer: stock.body) == #"{"stock":{"LP-FIG-A4":10}}"#)

            // More than there is: 409 naming the SKU, nothing taken.
            _ = try await client.execute(uri: "/api/cart/items", method: .post, headers: headers([session.bearer]),
                                         body: jsonBody(["sku": "LP-FIG-A4", "quantity": 11])) { $0 }
            let short = try await client.execute(uri: "/api/checkout", method: .post, headers: bearer + [.idempotencyKeyTest: "order-2"]) { $0 }
            #expect(short.status == .conflict)
            let problem = try object(short)
            #expect(problem["error"] as? String == "insufficient_stock")
            #expect(problem["sku"] as? String == "LP-FIG-A4")
        }
        var iterator = events.makeAsyncIterator()
        let event = await iterator.next()
        #expect(event?.sku == "LP-FIG-A4")
        #expect(event?.stock == 10)
        #expect(metrics.text().contains(#"ishop_checkouts_total{outcome="placed"} 1"#))
    }

    /// The example shop with one variant sold on backorder at stock 0: "Available to order" on its
    /// page must be true at checkout (it answered 409 insufficient_stock before).
    @Test(arguments: Backend.available) func backorderVariantCanBeBoughtAtZero(backend: Backend) async throws {
        let fixture = try await RuntimeFixture.make(backend)
        defer { fixture.remove() }
        var fig = try #require(try await fixture.store.catalog(includeUnpublished: true).first { $0.handle == "fig-bowl-print" })
        let index = try #require(fig.variants.firstIndex { $0.sku == "LP-FIG-A2-OAK" })
        fig.variants[index].stock = 0
        fig.variants[index].inventoryPolicy = .continue
        _ = try await fixture.store.upsert([fig])
        try await fixture.application().test(.live) { client in
            let session = try await client.signedUp("later@example.com")
            _ = try await client.execute(uri: "/api/cart/items", method: .post, headers: headers([session.bearer]),
                                         body: jsonBody(["sku": "LP-FIG-A2-OAK", "quantity": 2])) { $0 }
            let placed = try await client.execute(uri: "/api/checkout", method: .post,
                                                  headers: [.authorization: "Bearer \(session.access)", .idempotencyKeyTest: "later-1"]) { $0 }
            #expect(placed.status == .created)
            let items = try #require(try object(placed)["items"] as? [[String: Any]])
            #expect(items.count == 1)
            #expect(items.first?["sku"] as? String == "LP-FIG-A2-OAK")
            #expect(items.first?["quantity"] as? Int == 2)
            #expect(items.first?["backordered"] as? Int == 2)
            let stock = try await client.execute(uri: "/api/stock?skus=LP-FIG-A2-OAK", method: .get) { $0 }
            #expect(String(buffer: stock.body) == #"{"stock":{"LP-FIG-A2-OAK":0}}"#)
        }
    }

    @Test(arguments: Backend.available) func adminChangesStockAndPrice(backend: Backend) async throws {
        let fixture = try await RuntimeFixture.make(backend)
        defer { fixture.remove() }
        _ = try await Accounts.create(store: fixture.store, email: "owner@example.com", password: "correct horse battery", role: .admin,
                                      bcryptCost: 4)
        try await fixture.application().test(.live) { client in
            let admin = try await client.login("owner@example.com")
            let response = try await client.execute(uri: "/api/admin/variants/LP-FIG-A4", method: .patch, headers: headers([admin.bearer]),
                                                    body: jsonBody(["stock": 3, "price_cents": 2500])) { $0 }
            #expect(response.status == .ok)
            #expect(String(buffer: response.body) == #"{"price_cents":2500,"sku":"LP-FIG-A4","stock":3,"title":"A4 / No frame"}"#)
            for (body, field) in [([:], "stock"), (["stock": -1], "stock"), (["price_cents": "12"], "price_cents"),
                                  (["stock": 1.5], "stock")] as [([String: Any], String)] {
                let bad = try await client.execute(uri: "/api/admin/variants/LP-FIG-A4", method: .patch, headers: headers([admin.bearer]),
                                                   body: jsonBody(body)) { $0 }
                #expect(bad.status == .unprocessableContent, "\(body)")
                let named = try object(bad)["field"] as? String
                #expect(named == field, "\(body) \(String(buffer: bad.body))")
            }
            let unknown = try await client.execute(uri: "/api/admin/variants/NOPE", method: .patch, headers: headers([admin.bearer]),
                                                   body: jsonBody(["stock": 1])) { $0 }
            #expect(unknown.status == .notFound)
        }
    }

    @Test(arguments: Backend.available) func concurrentCheckoutsWithOneKeyOverRealHTTP(backend: Backend) async throws {
        let fixture = try await RuntimeFixture.make(backend)
        defer { fixture.remove() }
        try await fixture.application().test(.live) { client in
            let session = try await client.signedUp("racer@example.com")
            _ = try await client.execute(uri: "/api/cart/items", method: .post, headers: headers([session.bearer]),
                                         body: jsonBody(["sku": "LP-FIG-A4", "quantity": 1])) { $0 }
            let port = try #require(client.port)
            let ids = try await withThrowingTaskGroup(of: (UInt, String?).self) { group in
                for _ in 0..<20 {
                    group.addTask {
                        var request = HTTPClientRequest(url: "http://127.0.0.1:\(port)/api/checkout")
                        request.method = .POST
                        request.headers.add(name: "Authorization", value: "Bearer \(session.access)")
                        request.headers.add(name: "Idempotency-Key", value: "the-one")
                        let response = try await HTTPClient.shared.execute(request, timeout: .seconds(30))
                        let body = try await response.body.collect(upTo: 1 << 16)
                        let object = try JSONSerialization.jsonObject(with: Data(buffer: body)) as? [String: Any]
                        return (response.status.code, object?["order_id"] as? String)
                    }
                }
                var all: [(UInt, String?)] = []
                for try await result in group { all.append(result) }
                return all
            }
            let statuses = Set(ids.map(\.0))
            #expect(statuses == [201])
            #expect(Set(ids.compactMap(\.1)).count == 1)
            let stock = try await client.execute(uri: "/api/stock?skus=LP-FIG-A4", method: .get) { $0 }
            #expect(String(buffer: stock.body) == #"{"stock":{"LP-FIG-A4":11}}"#)
        }
    }
}

// MARK: Limits and headers

@Suite struct HostileInputTests {
    @Test(arguments: Backend.available) func oversizedMalformedAndWrongBodiesGet4xxWithTheErrorShape(backend: Backend) async throws {
        let fixture = try await RuntimeFixture.make(backend)
        defer { fixture.remove() }
        try await fixture.application().test(.live) { client in
            let big = ByteBuffer(string: #"{"email":""# + String(repeating: "a", count: 65 * 1024) + #"","password":"x"}"#)
            // Deep, yet under 64 KiB, so it reaches the parser.
            let deep = ByteBuffer(string: String(repeating: "[", count: 30_000) + String(repeating: "]", count: 30_000))
            var invalidUTF8 = ByteBuffer(string: #"{"email":""#)
            invalidUTF8.writeBytes([0xC3, 0x28, 0xFF])
            invalidUTF8.writeString(#"","password":"long enough pass"}"#)
            let cases: [(ByteBuffer, HTTPFields, HTTPResponse.Status)] = [
                (big, jsonHeaders, .contentTooLarge),
                (deep, jsonHeaders, .unprocessableContent),
                (invalidUTF8, jsonHeaders, .unprocessableContent),
                (ByteBuffer(string: "{not json"), jsonHeaders, .unprocessableContent),
                (ByteBuffer(string: "[1,2]"), jsonHeaders, .unprocessableContent),
                (ByteBuffer(string: "null"), jsonHeaders, .unprocessableContent),
                (ByteBuffer(string: #"{"email":"a@b.c","password":"long enough pass"}"#), [.contentType: "text/plain"], .unsupportedMediaType),
                (ByteBuffer(string: #"{"email":"a@b.c","password":"long enough pass"}"#), [:], .unsupportedMediaType),
                (ByteBuffer(), jsonHeaders, .unprocessableContent),
            ]
            for (body, fields, status) in cases {
                for uri in ["/api/auth/register", "/api/auth/login"] {
                    let response = try await client.execute(uri: uri, method: .post, headers: fields, body: body) { $0 }
                    #expect(response.status == status, "\(uri) \(body.readableBytes) bytes")
                    #expect(response.headers[.contentType]?.hasPrefix("application/json") == true)
                    let error = try object(response)
                    #expect(error["error"] is String && error["message"] is String)
                }
            }
        }
    }

    @Test(arguments: Backend.available) func everyResponseHasARequestIdAndSecurityHeaders(backend: Backend) async throws {
        let fixture = try await RuntimeFixture.make(backend)
        defer { fixture.remove() }
        try await fixture.application().test(.live) { client in
            var seen: Set<String> = []
            for uri in ["/healthz", "/api/products/nope", "/api/cart", "/metrics"] {
                let response = try await client.execute(uri: uri, method: .get) { $0 }
                let id = try #require(response.headers[.init("X-Request-Id")!])
                seen.insert(id)
                #expect(response.headers[.init("X-Content-Type-Options")!] == "nosniff")
            }
            #expect(seen.count == 4, "each request its own id")
            let kept = try await client.execute(uri: "/healthz", method: .get, headers: [.init("X-Request-Id")!: "proxy-id-12345"]) { $0 }
            #expect(kept.headers[.init("X-Request-Id")!] == "proxy-id-12345")
            let metrics = try await client.execute(uri: "/metrics", method: .get) { $0 }
            let text = String(buffer: metrics.body)
            #expect(text.contains(#"ishop_http_requests_total{method="GET",route="/healthz",status="200"}"#))
            #expect(text.contains("ishop_http_request_duration_seconds_bucket"))
            #expect(text.contains("ishop_http_requests_in_flight"))
        }
    }
}
