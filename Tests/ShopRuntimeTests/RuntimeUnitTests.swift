import Foundation
import HTTPTypes
import Hummingbird
import NIOCore
@testable import ShopRuntime
import ShopCore
import Testing

@Suite struct RateLimiterTests {
    @Test func bucketRefillsAtItsRateAndSaysHowLongToWait() {
        let limiter = RateLimiter(.init(perMinute: 6, burst: 3))
        let start: UInt64 = 1_000_000_000_000
        #expect(limiter.take("a", now: start) == nil)
        #expect(limiter.take("a", now: start) == nil)
        #expect(limiter.take("a", now: start) == nil)
        // Empty: one token comes every 10 s.
        #expect(limiter.take("a", now: start) == 10)
        #expect(limiter.take("a", now: start + 5_000_000_000) == 5)
        #expect(limiter.take("a", now: start + 10_000_000_000) == nil)
        // Buckets are per key.
        #expect(limiter.take("b", now: start) == nil)
    }

    @Test func memoryStaysBoundedByForgettingQuietClients() {
        let limiter = RateLimiter(.init(perMinute: 60, burst: 2), maxKeys: 100)
        for index in 0..<1000 {
            _ = limiter.take("client-\(index)", now: UInt64(index) * 1_000_000_000)
            #expect(limiter.keyCount <= 100)
        }
        // A client seen long ago starts again with a full bucket, as a new one would.
        #expect(limiter.take("client-0", now: 2000 * 1_000_000_000) == nil)
    }
}

@Suite struct ClientAddressTests {
    func request(forwardedFor: String?) -> Request {
        var head = HTTPRequest(method: .get, scheme: "http", authority: "shop", path: "/")
        if let forwardedFor { head.headerFields[HTTPField.Name("X-Forwarded-For")!] = forwardedFor }
        return Request(head: head, body: .init(buffer: ByteBuffer()))
    }

    @Test func forwardedForIsBelievedOnlyFromTrustedProxies() throws {
        let proxy = try SocketAddress(ipAddress: "10.0.0.1", port: 4000)
        let stranger = try SocketAddress(ipAddress: "203.0.113.5", port: 4000)
        let address = ClientAddress(trustedProxies: ["10.0.0.1", "10.0.0.2"])
        // From a stranger the header is the stranger's own invention.
        #expect(address.of(request(forwardedFor: "1.2.3.4"), peer: stranger) == "203.0.113.5")
        // Through our proxies: the right-most address that is not one of them.
        #expect(address.of(request(forwardedFor: "1.2.3.4, 198.51.100.7, 10.0.0.2"), peer: proxy) == "198.51.100.7")
        #expect(address.of(request(forwardedFor: nil), peer: proxy) == "10.0.0.1")
        #expect(address.of(request(forwardedFor: "10.0.0.2"), peer: proxy) == "10.0.0.1")
        #expect(ClientAddress.normalise("::FFFF:127.0.0.1") == "127.0.0.1")
    }
}

@Suite struct PasswordGateTests {
    @Test func aFullQueueIsTurnedAwayInsteadOfWaitingForever() async throws {
        let gate = ConcurrencyGate(permits: 1, maxWaiting: 0)
        let (started, startedContinuation) = AsyncStream<Void>.makeStream()
        let (release, releaseContinuation) = AsyncStream<Void>.makeStream()
        let holder = Task {
            try await gate.run {
                startedContinuation.yield()
                for await _ in release { break }
                return 1
            }
        }
        for await _ in started { break }
        await #expect(throws: PasswordHasher.Busy.self) { try await gate.run { 2 } }
        releaseContinuation.yield()
        #expect(try await holder.value == 1)
        // The permit came back.
        #expect(try await gate.run { 3 } == 3)
    }

    @Test func bcryptHashesVerifyAndRefuseTheWrongPassword() async throws {
        let hasher = PasswordHasher(cost: 4)
        let hash = try await hasher.hash("correct horse battery")
        #expect(hash.hasPrefix("$2"))
        #expect(try await hasher.verify("correct horse battery", hash: hash))
        #expect(try await hasher.verify("correct horse batterY", hash: hash) == false)
        try await hasher.verifyDecoy("anything at all")
    }
}

@Suite struct RuntimeSecretTests {
    @Test func developmentMakesUpASecretProductionRefuses() throws {
        let development = RuntimeSettings.defaults(for: "development")
        let made = try Runtime.jwtSecret(development, environment: [:])
        #expect(made.count == 32)
        #expect(try Runtime.jwtSecret(development, environment: [:]) != made, "random each start")
        #expect(throws: Runtime.StartupError.self) { try Runtime.jwtSecret(development, environment: ["ISHOP_JWT_SECRET": "short"]) }
        let production = RuntimeSettings.defaults(for: "production")
        #expect(throws: Runtime.StartupError.self) { try Runtime.jwtSecret(production, environment: [:]) }
        let given = String(repeating: "s", count: 40)
        #expect(try Runtime.jwtSecret(production, environment: ["ISHOP_JWT_SECRET": given]) == Array(given.utf8))
    }
}

@Suite struct CatalogCacheTests {
    @Test func entriesBelongToOneRevisionAndANewerOneDropsThem() {
        let cache = CatalogCache()
        let body = ByteBuffer(string: #"{"handle":"a"}"#)
        cache.keep(product: body, handle: "a", at: 5)
        cache.keep(stock: ["A-1": 3], asked: ["A-1", "GONE"], at: 5)
        #expect(cache.product(handle: "a", at: 5) == body)
        #expect(cache.stock(skus: ["A-1", "GONE"], at: 5) == ["A-1": 3])
        #expect(cache.stock(skus: ["A-1", "B-1"], at: 5) == nil, "B-1 was never read")

        // A request that read the revision before a commit: it neither gets nor drops anything,
        // and what it read is not kept.
        #expect(cache.product(handle: "a", at: 4) == nil)
        cache.keep(product: ByteBuffer(string: "old"), handle: "b", at: 4)
        #expect(cache.product(handle: "b", at: 5) == nil)
        #expect(cache.product(handle: "a", at: 5) == body)

        // Whole stock answers by query text.
        let answer = ByteBuffer(string: #"{"stock":{"A-1":3}}"#)
        cache.keep(stockAnswer: answer, query: "skus=A-1,GONE", at: 5)
        #expect(cache.stockAnswer(query: "skus=A-1,GONE", at: 5) == answer)
        #expect(cache.stockAnswer(query: "skus=GONE,A-1", at: 5) == nil)

        // A newer revision drops everything, absent SKUs and answers included.
        #expect(cache.stockAnswer(query: "skus=A-1,GONE", at: 6) == nil)
        #expect(cache.product(handle: "a", at: 6) == nil)
        #expect(cache.stock(skus: ["GONE"], at: 6) == nil)
        #expect(cache.product(handle: "a", at: 5) == nil, "no going back to an older revision")
    }

    @Test func keepsNoMoreThanItsCapacity() {
        // Products get three quarters of the 280 bytes (210): room for two bodies of 10 bytes with
        // a 1-byte key (75 each with the entry's 64), not three. Stock answers get 70: one of 66.
        let cache = CatalogCache(capacity: 2, absentCapacity: 1, byteCapacity: 280)
        for handle in ["a", "b", "c"] { cache.keep(product: ByteBuffer(string: String(repeating: handle, count: 10)), handle: handle, at: 1) }
        #expect(cache.product(handle: "b", at: 1) != nil)
        #expect(cache.product(handle: "c", at: 1) == nil)
        cache.keep(stockAnswer: ByteBuffer(string: "1"), query: "s", at: 1)
        #expect(cache.stockAnswer(query: "s", at: 1) != nil, "stock answers have a budget of their own")
        cache.keep(stockAnswer: ByteBuffer(string: "1"), query: "t", at: 1)
        #expect(cache.stockAnswer(query: "t", at: 1) == nil, "past it, none is kept")
        cache.keep(stock: ["A": 1, "B": 2, "C": 3], asked: ["A", "B", "C"], at: 1)
        #expect(cache.stock(skus: ["A"], at: 1) == nil, "three SKUs at once would pass the capacity: none kept")
        cache.keep(stock: [:], asked: ["X", "Y"], at: 1)
        #expect(cache.stock(skus: ["X"], at: 1) == nil, "absent SKUs past their own capacity are not kept")
        cache.keep(stock: [:], asked: ["X"], at: 1)
        #expect(cache.stock(skus: ["X"], at: 1) == [:])
        // A newer revision starts the budget afresh.
        cache.keep(product: ByteBuffer(string: "c"), handle: "c", at: 2)
        #expect(cache.product(handle: "c", at: 2) != nil)
    }
}

@Suite struct AccessTokenMemoryTests {
    @Test func aTokenAnsweredFromMemoryIsStillRefusedOnceExpiredAndOnlyItsOwnBytesPass() async throws {
        let tokens = AccessTokens(secret: Array("a-secret-of-at-least-32-bytes-for-tests".utf8), lifetimeSeconds: 3)
        let token = try await tokens.sign(userID: "u1", role: .customer, issuedAt: AuthService.now(), tokenID: "t1")
        let identity = Identity(userID: "u1", role: .customer)
        #expect(await tokens.verify(token) == identity)
        #expect(await tokens.verify(token) == identity, "the second time from memory")
        var tampered = Array(token)
        tampered[tampered.count - 2] = tampered[tampered.count - 2] == "A" ? "B" : "A"
        #expect(await tokens.verify(String(tampered)) == nil)
        #expect(await tokens.verify(token + " ") == nil)
        // Expiry is at most 3 s after signing (issuedAt is whole seconds).
        try await Task.sleep(for: .milliseconds(3200))
        #expect(await tokens.verify(token) == nil)
    }
}
