import Foundation
import ShopCore
import ShopTestSupport
import Testing

/// site.yml as a shop owner writes it: typed values, defaults, and mistakes told with file, line and key path.
/// YAML from explicit lines, so the line numbers the tests expect are easy to see.
func yamlLines(_ lines: String...) -> String { lines.joined(separator: "\n") + "\n" }

@Suite("SiteConfig")
struct SiteConfigTests {
    static let file = "shop/site.yml"

    static func yaml(_ lines: String...) -> String { lines.joined(separator: "\n") + "\n" }

    /// The 1-based number of the first line of `text` that contains `needle` (found independently of the code under test).
    static func line(of needle: String, in text: String) -> Int? {
        let lines = text.split(separator: "\n", omittingEmptySubsequences: false)
        return lines.firstIndex(where: { $0.contains(needle) }).map { $0 + 1 }
    }

    static func parse(_ text: String) throws -> SiteConfig {
        try SiteConfig.parse(text, file: file, siteDirectory: "/srv/shop")
    }

    static func configError(_ text: String, sourceLocation: SourceLocation = #_sourceLocation) throws -> ConfigError {
        try #require(throws: ConfigError.self, sourceLocation: sourceLocation) { try parse(text) }
    }

    // MARK: Valid files

    @Test("Every key of a full site.yml is read into the right typed value")
    func fullFile() throws {
        let text = Self.yaml(
            "# A comment",
            "title: Lumen Prints",
            "tagline: Photographic art prints.",
            "baseURL: https://shop.example.com",
            "currency: eur",
            "locale: de_DE",
            "database: data/shop.sqlite",
            "publishDir: out",
            "theme: minimal",
            "themesDir: my-themes",
            "contentDir: pages",
            "pageSize: 12",
            "images:",
            "  widths: [1600, 320, 640, 640]",
            "",
            "environments:",
            "  development:",
            "    host: 0.0.0.0",
            "    port: 9090",
            "    allowedOrigins:",
            "      - http://localhost:*",
            "    jwtSecretEnv: DEV_JWT",
            "    serveStatic: true",
            "  production:",
            "    host: 10.0.0.5",
            "    port: 8443",
            "    allowedOrigins: [https://shop.example.com, https://www.example.com]",
            "    jwtSecretEnv: PROD_JWT",
            "    serveStatic: false",
            "    trustedProxies: [127.0.0.1, 10.0.0.1]",
            "  staging:"
        )
        let config = try Self.parse(text)
        #expect(config.title == "Lumen Prints")
        #expect(config.tagline == "Photographic art prints.")
        #expect(config.baseURL.absoluteString == "https://shop.example.com/")  // a "/" is added
        #expect(config.currency.code == "EUR")
        #expect(config.currency.minorDigits == 2)
        #expect(config.locale == "de_DE")
        #expect(config.language == "de")
        #expect(config.database == "data/shop.sqlite")
        #expect(config.publishDir == "out")
        #expect(config.theme == "minimal")
        #expect(config.themesDir == "my-themes")
        #expect(config.contentDir == "pages")
        #expect(config.pageSize == 12)
        #expect(config.images.widths == [320, 640, 1600])  // sorted, duplicates dropped
        #expect(config.siteDirectory == "/srv/shop")
        #expect(config.sourceFile == Self.file)
        #expect(config.resolve(config.database) == "/srv/shop/data/shop.sqlite")
        #expect(config.resolve("/var/lib/shop.sqlite") == "/var/lib/shop.sqlite")

        #expect(Set(config.environments.keys) == ["development", "production", "staging"])

        var development = RuntimeSettings.defaults(for: "development")
        development.host = "0.0.0.0"
        development.port = 9090
        development.allowedOrigins = ["http://localhost:*"]
        development.jwtSecretEnv = "DEV_JWT"
        development.serveStatic = true
        #expect(config.environments["development"] == development)

        let production = try #require(config.environments["production"])
        #expect(production.name == "production")
        #expect(production.isProduction)
        #expect(production.host == "10.0.0.5")
        #expect(production.port == 8443)
        #expect(production.allowedOrigins == ["https://shop.example.com", "https://www.example.com"])
        #expect(production.jwtSecretEnv == "PROD_JWT")
        #expect(production.serveStatic == false)
        #expect(production.trustedProxies == ["127.0.0.1", "10.0.0.1"])

        // "staging:" with nothing under it is an environment with default settings.
        let staging = try #require(config.environments["staging"])
        #expect(staging.name == "staging")
        #expect(staging.port == 8080)
        #expect(staging.allowedOrigins.isEmpty)
        #expect(try config.runtime(for: "staging") == staging)
    }

    @Test("Missing keys take their defaults; development and production always exist")
    func defaults() throws {
        for text in ["", "# only a comment\n", "title: Only a title\n"] {
            let config = try Self.parse(text)
            #expect(config.title == (text.contains("title") ? "Only a title" : "My Shop"))
            #expect(config.tagline == "")
            #expect(config.baseURL.absoluteString == "http://127.0.0.1:8080/")
            #expect(config.currency.code == "USD")
            #expect(config.locale == "en_US")
            #expect(config.database == "ishop.sqlite")
            #expect(config.publishDir == "public")
            #expect(config.theme == "default")
            #expect(config.themesDir == "themes")
            #expect(config.contentDir == "content")
            #expect(config.pageSize == 24)
            #expect(config.images.widths == [320, 640, 1024, 1600])
            #expect(Set(config.environments.keys) == ["development", "production"])

            let development = try config.runtime(for: "development")
            #expect(development.port == 8080)
            #expect(development.host == "127.0.0.1")
            #expect(development.serveStatic)
            #expect(development.allowedOrigins == ["http://localhost:*", "http://127.0.0.1:*"])
            #expect(development.jwtSecretEnv == "ISHOP_JWT_SECRET")

            let production = try config.runtime(for: "production")
            #expect(production.port == 8080)
            #expect(!production.serveStatic)
            #expect(production.allowedOrigins.isEmpty)
            #expect(production.trustedProxies.isEmpty)
        }
    }

    @Test("Only the environment given is replaced; the other standard one keeps its defaults")
    func partialEnvironments() throws {
        let config = try Self.parse(Self.yaml("environments:", "  production:", "    port: 9000"))
        #expect(config.environments["production"]?.port == 9000)
        #expect(config.environments["production"]?.serveStatic == false)
        #expect(config.environments["development"] == RuntimeSettings.defaults(for: "development"))
    }

    @Test("Asking for an environment that does not exist names the known ones")
    func unknownEnvironment() throws {
        let config = try Self.parse("title: Shop\n")
        let error = try #require(throws: ConfigError.self) { try config.runtime(for: "staging") }
        #expect(error.keyPath == "environments")
        #expect(error.file == Self.file)
        #expect(error.message.contains("staging"))
        #expect(error.message.contains("development"))
        #expect(error.message.contains("production"))
    }

    @Test("The example shop's site.yml loads, and its production origins are safe")
    func exampleSiteLoads() throws {
        let path = Repository.path("site.yml")
        let config = try SiteConfig.load(path: path)
        #expect(config.sourceFile == path)
        #expect(config.siteDirectory == Repository.root.standardizedFileURL.path)
        let production = try config.runtime(for: "production")
        let policy = try OriginPolicy(allowing: production.allowedOrigins)
        #expect(policy.productionProblems.isEmpty)
        _ = try config.runtime(for: "development")
    }

    @Test("A missing file is a ConfigError naming the file")
    func missingFile() throws {
        let path = NSTemporaryDirectory() + "ishop-no-such-\(UUID().uuidString)/site.yml"
        let error = try #require(throws: ConfigError.self) { try SiteConfig.load(path: path) }
        #expect(error.file == path)
        #expect(error.line == nil)
        #expect(error.message.contains("cannot be read"))
    }

    // MARK: Mistakes, with key path and line

    @Test("A port that is not a number names environments.production.port and its line")
    func portNotANumber() throws {
        let text = Self.yaml(
            "title: Shop",
            "environments:",
            "  development:",
            "    port: 9000",
            "  production:",
            "    host: 0.0.0.0",
            "    port: abc"
        )
        let error = try Self.configError(text)
        #expect(error.keyPath == "environments.production.port")
        #expect(error.line == 7)
        #expect(error.line == Self.line(of: "port: abc", in: text))
        #expect(error.file == Self.file)
        #expect(error.message.contains("abc"))
        #expect(error.description.contains("shop/site.yml:7"))
        #expect(error.description.contains("environments.production.port"))
    }

    @Test("The runtime's auth settings are read, with defaults and bounds")
    func authSettings() throws {
        let config = try Self.parse(Self.yaml(
            "title: Shop",
            "environments:",
            "  staging:",
            "    bcryptCost: 11",
            "    accessTokenMinutes: 10",
            "    refreshTokenDays: 14",
            "    refreshGraceSeconds: 30",
            "    rateLimits:",
            "      authPerIP: {perMinute: 30, burst: 15}",
            "      authPerAccount: {perMinute: 3}"
        ))
        let staging = try config.runtime(for: "staging")
        #expect(staging.bcryptCost == 11)
        #expect(staging.accessTokenMinutes == 10)
        #expect(staging.refreshTokenDays == 14)
        #expect(staging.refreshGraceSeconds == 30)
        #expect(staging.authRateLimitPerIP == .init(perMinute: 30, burst: 15))
        #expect(staging.authRateLimitPerAccount == .init(perMinute: 3, burst: 3))
        let production = try config.runtime(for: "production")
        #expect(production.bcryptCost == 12)
        #expect(production.accessTokenMinutes == 15)
        #expect(production.refreshGraceSeconds == 20)

        let weak = try Self.configError(Self.yaml("title: Shop", "environments:", "  production:", "    bcryptCost: 8"))
        #expect(weak.keyPath == "environments.production.bcryptCost")
        let outOfRange = try Self.configError(Self.yaml("title: Shop", "environments:", "  development:", "    bcryptCost: 40"))
        #expect(outOfRange.keyPath == "environments.development.bcryptCost")
        let badLimit = try Self.configError(Self.yaml(
            "title: Shop", "environments:", "  development:", "    rateLimits:", "      authPerIP: {perMinute: 0}"))
        #expect(badLimit.keyPath.hasSuffix("perMinute"))
        let unknown = try Self.configError(Self.yaml(
            "title: Shop", "environments:", "  development:", "    rateLimits:", "      checkout: {perMinute: 5}"))
        #expect(unknown.keyPath.hasSuffix("checkout"))
    }

    @Test("An unknown top-level key is reported with its line, never ignored")
    func unknownKey() throws {
        let text = Self.yaml("title: Shop", "currency: EUR", "titel: Typo Shop", "locale: en_IE")
        let error = try Self.configError(text)
        #expect(error.keyPath == "titel")
        #expect(error.line == 3)
        #expect(error.description.contains("shop/site.yml:3"))
        #expect(error.message.contains("not a known key"))
    }

    @Test("An unknown key whose value is on the lines below is reported on the key's own line")
    func unknownKeyWithBlockValue() throws {
        let text = Self.yaml("title: Shop", "imagez:", "  widths: [320]")
        let error = try Self.configError(text)
        #expect(error.keyPath == "imagez")
        #expect(error.line == 2)
    }

    @Test("An unknown key inside an environment is reported with its full path")
    func unknownNestedKey() throws {
        let text = Self.yaml(
            "title: Shop",
            "environments:",
            "  development:",
            "    port: 8080",
            "    colour: blue",
            "  production:",
            "    port: 8081"
        )
        let error = try Self.configError(text)
        #expect(error.keyPath == "environments.development.colour")
        #expect(error.line == 5)
    }

    @Test("An unknown key under images is reported with its full path")
    func unknownImagesKey() throws {
        let text = Self.yaml("title: Shop", "images:", "  width: [320]")
        let error = try Self.configError(text)
        #expect(error.keyPath == "images.width")
        #expect(error.line == 3)
    }

    @Test("outputs: every optional output is on unless switched off; an unknown one is refused")
    func optionalOutputs() throws {
        let defaults = try Self.parse(Self.yaml("title: Shop")).outputs
        #expect(defaults.tagCollections && defaults.atomFeed && defaults.merchantFeed && defaults.searchIndex)
        let some = try Self.parse(Self.yaml("title: Shop", "outputs:", "  tagCollections: false", "  merchantFeed: false")).outputs
        #expect(!some.tagCollections && !some.merchantFeed)
        #expect(some.atomFeed && some.searchIndex)
        let none = try Self.parse(Self.yaml(
            "title: Shop", "outputs:", "  tagCollections: false", "  atomFeed: false", "  merchantFeed: false", "  searchIndex: false")).outputs
        #expect(!none.tagCollections && !none.atomFeed && !none.merchantFeed && !none.searchIndex)

        let error = try Self.configError(Self.yaml("title: Shop", "outputs:", "  rssFeed: false"))
        #expect(error.keyPath == "outputs.rssFeed")
        #expect(error.line == 3)
    }

    @Test("Values of the wrong type or out of range are refused with key path and line", arguments: [
        (yamlLines("title: Shop", "images:", "  widths: wide"), "images.widths", "widths: wide"),
        (yamlLines("title: Shop", "images:", "  widths: [320, 10]"), "images.widths", "widths: [320, 10]"),
        (yamlLines("title: Shop", "images:", "  widths: []"), "images.widths", "widths: []"),
        (yamlLines("title: Shop", "images: big"), "images", "images: big"),
        (yamlLines("title: Shop", "tagline: x", "pageSize: 0"), "pageSize", "pageSize: 0"),
        (yamlLines("title: Shop", "pageSize: 2000"), "pageSize", "pageSize: 2000"),
        (yamlLines("title: Shop", "pageSize: twelve"), "pageSize", "pageSize: twelve"),
        (yamlLines("title: Shop", "currency: EURO"), "currency", "currency: EURO"),
        (yamlLines("title: Shop", "locale: en_IE", "baseURL: shop.example.com"), "baseURL", "baseURL: shop.example.com"),
        (yamlLines("title: Shop", "baseURL: ftp://shop.example.com/"), "baseURL", "baseURL: ftp"),
        (yamlLines("title: Shop", "locale: en GB"), "locale", "locale: en GB"),
        (yamlLines("title: Shop", "theme: ../evil"), "theme", "theme: ../evil"),
        (yamlLines("title: [a, b]"), "title", "title: [a, b]"),
        (yamlLines("title: Shop", "environments:", "  production:", "    port: 70000"), "environments.production.port", "port: 70000"),
        (yamlLines("title: Shop", "environments:", "  production:", "    allowedOrigins: [\"*\"]"),
         "environments.production.allowedOrigins", "allowedOrigins"),
        (yamlLines("title: Shop", "environments:", "  production:", "    jwtSecretEnv: \"hunter2 is my secret!\""),
         "environments.production.jwtSecretEnv", "jwtSecretEnv"),
        (yamlLines("title: Shop", "environments:", "  development:", "    serveStatic: maybe"),
         "environments.development.serveStatic", "serveStatic: maybe"),
        (yamlLines("title: Shop", "environments:", "  production: 8080"), "environments.production", "production: 8080"),
        (yamlLines("title: Shop", "outputs:", "  merchantFeed: sometimes"), "outputs.merchantFeed", "merchantFeed: sometimes"),
        (yamlLines("title: Shop", "outputs: none"), "outputs", "outputs: none"),
    ])
    func wrongValues(text: String, keyPath: String, needle: String) throws {
        let error = try Self.configError(text)
        #expect(error.keyPath == keyPath)
        let expectedLine = try #require(Self.line(of: needle, in: text))
        #expect(error.line == expectedLine)
        #expect(error.file == Self.file)
        #expect(error.description.contains("\(Self.file):\(expectedLine)"))
    }

    @Test("A tab used as indentation is invalid YAML, told with its line")
    func tabIndentation() throws {
        let text = "title: Shop\nenvironments:\n\tproduction:\n    port: 1\n"
        let error = try Self.configError(text)
        #expect(error.line == 3)
        #expect(error.message.contains("not valid YAML"))
        #expect(error.description.contains("shop/site.yml:3"))
    }

    @Test("A key indented wrongly is invalid YAML, told with its line")
    func badIndentation() throws {
        let text = Self.yaml("title: Shop", "environments:", "  production:", "    port: 1", "   host: x")
        let error = try Self.configError(text)
        #expect(error.line == 5)
        #expect(error.message.contains("not valid YAML"))
    }

    @Test("A key given twice is refused and named")
    func duplicateKey() throws {
        let text = Self.yaml("title: A", "locale: en_IE", "title: B")
        let error = try Self.configError(text)
        #expect(error.message.contains("twice"))
        #expect(error.description.contains("title"))
        // Either occurrence is a useful place to point at.
        #expect(error.line == 1 || error.line == 3)
    }

    /// Design: "errors name the key path and line". A nested duplicate is caught by Yams before
    /// YAMLMapping's own check (which would set the key path), so the path is lost.
    @Test("A nested key given twice is named by its full key path")
    func duplicateNestedKeyPath() throws {
        let text = Self.yaml("title: A", "environments:", "  production:", "    port: 1", "    host: x", "    port: 2")
        let error = try Self.configError(text)
        #expect(error.message.contains("twice"))
        #expect(error.line == 4 || error.line == 6)
        #expect(error.keyPath == "environments.production.port")
    }

    @Test("A ConfigError's description has file, line, key path and message")
    func errorDescription() {
        let error = ConfigError(file: "site.yml", line: 12, keyPath: "environments.production.port", message: "must be between 0 and 65535")
        #expect(error.description == "site.yml:12: environments.production.port: must be between 0 and 65535")
        let noLine = ConfigError(file: "site.yml", line: nil, keyPath: "", message: "is not UTF-8 text")
        #expect(noLine.description == "site.yml: is not UTF-8 text")
    }
}
