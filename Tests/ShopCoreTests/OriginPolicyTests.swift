import ShopCore
import Testing

/// The browser origins allowed to call the runtime: exact, normalised, no suffix matching.
@Suite("OriginPolicy")
struct OriginPolicyTests {
    @Test("An exact origin is allowed, others are not")
    func exactMatch() throws {
        let policy = try OriginPolicy(allowing: ["https://shop.example.com"])
        #expect(policy.allows("https://shop.example.com"))
        #expect(!policy.allows("https://www.example.com"))
        #expect(!policy.allows("https://example.com"))
        #expect(!policy.allows("http://shop.example.com"))
        #expect(!policy.allows("https://shop.example.com:8443"))
        #expect(!policy.allows(""))
    }

    @Test("A default port is the same origin as no port")
    func defaultPorts() throws {
        let policy = try OriginPolicy(allowing: ["https://a.com", "http://b.com:80"])
        #expect(policy.allows("https://a.com:443"))
        #expect(policy.allows("https://a.com"))
        #expect(policy.allows("http://b.com"))
        #expect(policy.allows("http://b.com:80"))
        #expect(!policy.allows("https://a.com:80"))
        #expect(!policy.allows("http://b.com:443"))
        // The two spellings of one origin are one rule.
        #expect(try OriginPolicy(allowing: ["https://a.com", "https://a.com:443", "HTTPS://A.COM"]).rules.count == 1)
    }

    @Test("Scheme and host compare without case")
    func caseInsensitive() throws {
        let policy = try OriginPolicy(allowing: ["https://Shop.Example.com"])
        #expect(policy.allows("https://shop.example.com"))
        #expect(policy.allows("HTTPS://SHOP.EXAMPLE.COM"))
        #expect(policy.allows("hTTps://sHoP.eXaMpLe.CoM:443"))
    }

    @Test("http://localhost:* allows any port of localhost, and nothing else")
    func portWildcard() throws {
        let policy = try OriginPolicy(allowing: ["http://localhost:*"])
        #expect(policy.allows("http://localhost:3000"))
        #expect(policy.allows("http://localhost:5173"))
        #expect(policy.allows("http://localhost:65535"))
        #expect(policy.allows("http://localhost"))
        #expect(policy.allows("http://LOCALHOST:8080"))
        #expect(!policy.allows("http://localhost.evil.com:3000"))
        #expect(!policy.allows("http://evil-localhost:3000"))
        #expect(!policy.allows("https://localhost:3000"))
        #expect(!policy.allows("http://127.0.0.1:3000"))
        // The wildcard is a rule's pattern; a header value "*" port is no origin at all.
        #expect(!policy.allows("http://localhost:*"))
        #expect(!policy.allows("http://localhost:0"))
        #expect(!policy.allows("http://localhost:99999"))
    }

    @Test("IPv6 loopback origins work, with and without a port wildcard")
    func ipv6() throws {
        let policy = try OriginPolicy(allowing: ["http://[::1]:*"])
        #expect(policy.allows("http://[::1]:8080"))
        #expect(!policy.allows("https://[::1]:8080"))
        #expect(!policy.allows("http://[::2]:8080"))
    }

    @Test("null is never allowed, not even when listed")
    func nullOrigin() throws {
        let policy = try OriginPolicy(allowing: ["https://shop.example.com", "http://localhost:*"])
        #expect(!policy.allows("null"))
        #expect(throws: OriginPolicy.OriginError.malformed("null")) {
            try OriginPolicy(allowing: ["null"])
        }
    }

    @Test("A bare * is refused when the policy is made")
    func wildcardRefused() {
        #expect(throws: OriginPolicy.OriginError.wildcard) {
            try OriginPolicy(allowing: ["https://shop.example.com", "*"])
        }
        #expect(throws: OriginPolicy.OriginError.wildcard) {
            try OriginPolicy.Rule(parsing: "*")
        }
    }

    @Test("Suffix and prefix look-alikes are not the shop", arguments: [
        "https://shop.example.com.evil.com",
        "https://evilshop.example.com",
        "https://evil.shop.example.com",
        "https://shop.example.co",
        "https://shop.example.com@evil.com",
        "https://evil.com#https://shop.example.com",
        "https://shop.example.com/",
        "https://shop.example.com/path",
        "https://shop.example.com?x=1",
        "https://shop.example.com:443/",
        " https://shop.example.com",
    ])
    func lookAlikes(origin: String) throws {
        let policy = try OriginPolicy(allowing: ["https://shop.example.com"])
        #expect(!policy.allows(origin))
    }

    @Test("Rules that are not plain origins are refused", arguments: [
        "https://shop.example.com/",
        "https://shop.example.com/path",
        "https://shop.example.com?x=1",
        "https://user@shop.example.com",
        "ftp://shop.example.com",
        "shop.example.com",
        "https://",
        "https://shop.example.com:0",
        "https://shop.example.com:65536",
        "https://shop.example.com:abc",
        "https://*.example.com",
        "",
    ])
    func malformedRules(rule: String) {
        #expect(throws: OriginPolicy.OriginError.malformed(rule)) {
            try OriginPolicy(allowing: [rule])
        }
    }

    @Test("productionProblems lists port wildcards and plain http, and nothing else")
    func productionProblems() throws {
        let risky = try OriginPolicy(allowing: ["https://shop.example.com", "http://localhost:*", "http://shop.example.com"])
        #expect(risky.productionProblems == [
            "http://localhost:* has a port wildcard",
            "http://shop.example.com is not https",
        ])
        let httpsWildcard = try OriginPolicy(allowing: ["https://staging.example.com:*"])
        #expect(httpsWildcard.productionProblems == ["https://staging.example.com:* has a port wildcard"])

        let safe = try OriginPolicy(allowing: ["https://shop.example.com", "https://www.example.com:8443"])
        #expect(safe.productionProblems.isEmpty)
        #expect(try OriginPolicy(allowing: []).productionProblems.isEmpty)
    }

    @Test("An empty policy allows nothing")
    func emptyPolicy() throws {
        let policy = try OriginPolicy(allowing: [])
        #expect(!policy.allows("https://shop.example.com"))
        #expect(!policy.allows("http://localhost:3000"))
    }
}
