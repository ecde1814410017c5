import Foundation

/// site.yml, typed. Every key is documented in docs/configuration.md; keep the two in step.
///
/// Paths in site.yml are relative to the folder that holds site.yml, as Hugo's are relative to
/// the project root, so `ishop build --config shop/site.yml` works from anywhere.
public struct SiteConfig: Sendable {
    public var title: String
    public var tagline: String
    /// Absolute URL the site is published at, always ending in "/".
    public var baseURL: URL
    public var currency: Currency
    /// A locale identifier such as "en_GB" or "de_DE": prices and the page language follow it.
    public var locale: String
    /// A SQLite file path (relative to the site folder) or a postgres:// URL.
    public var database: String
    /// Where `ishop build` writes the site (Hugo's publishDir).
    public var publishDir: String
    public var theme: String
    public var themesDir: String
    public var contentDir: String
    /// Products per collection page.
    public var pageSize: Int
    /// Write a `.gz` beside every text output (for Nginx's gzip_static).
    public var precompress: Bool = true
    /// Which of the optional outputs a build writes (Hugo's disableKinds, the other way round).
    public var outputs = Outputs()
    public var images: ImageSettings
    /// Runtime settings per environment name ("development", "production", ...).
    public var environments: [String: RuntimeSettings]
    /// The folder of site.yml: every relative path above is resolved against it.
    public var siteDirectory: String
    /// The file this came from, for messages.
    public var sourceFile: String

    /// `images:` in site.yml: the responsive sets and how remote sources are fetched.
    /// Outputs a shop may do without: each is written unless switched off in site.yml's `outputs:`.
    public struct Outputs: Sendable, Equatable {
        /// A collection (`/collections/<slug>/`) for every tag, as well as for every product type.
        public var tagCollections = true
        /// `/feed.xml`, the Atom feed of the newest products (and the pages' links to it).
        public var atomFeed = true
        /// `/merchant-feed.xml`, the Google Merchant Center feed.
        public var merchantFeed = true
        /// `/search-index.json`, for client-side search.
        public var searchIndex = true

        public init() {}
    }

    public struct ImageSettings: Sendable, Equatable {
        public var widths: [Int]
        public static let defaultWidths = [320, 640, 1024, 1600]
        /// WebP and fallback JPEG quality (1-100) and WebP method (0 fast ... 6 small).
        public var quality = 80
        public var method = 4
        public var fallbackWidth = 1024
        /// Outside public/, so a clean publish keeps it: decoded results and fetched sources.
        public var cacheDir = ".ishop/images"
        /// Decompression-bomb guard, checked from the header before any pixel is allocated.
        public var maxPixels = 50_000_000
        public var connectTimeoutMs = 5_000
        public var readTimeoutMs = 10_000
        /// For one source, all attempts and back-off included.
        public var deadlineMs = 30_000
        public var retries = 2
        public var perHostConcurrency = 4
        public var maxBytes = 25_000_000
        /// Private, loopback or link-local hosts (names or addresses) that may be fetched all the same.
        public var allowedPrivateHosts: [String] = []
        /// Folders outside the site folder that local image sources may come from (relative to
        /// the site folder or absolute). A catalog is untrusted input: without this, an Image Src
        /// of "/home/someone/private.jpg" or "../../x.jpg" would be published.
        public var localFolders: [String] = []
    }

    /// The BCP 47 language of pages ("en" from "en_GB"), for `<html lang>`.
    public var language: String {
        let parts = locale.split(whereSeparator: { $0 == "_" || $0 == "-" })
        return parts.first.map { $0.lowercased() } ?? "en"
    }

    /// Resolves a path from site.yml (or any relative path) against the site folder.
    public func resolve(_ path: String) -> String {
        if path.hasPrefix("/") { return path }
        return URL(fileURLWithPath: siteDirectory).appendingPathComponent(path).standardizedFileURL.path
    }

    public func runtime(for environment: String) throws -> RuntimeSettings {
        if let settings = environments[environment] { return settings }
        let known = environments.keys.sorted().joined(separator: ", ")
        throw ConfigError(file: sourceFile, line: nil, keyPath: "environments",
                          message: "has no environment named \"\(environment)\" (site.yml defines: \(known.isEmpty ? "none" : known))")
    }
}

/// The runtime's settings for one environment.
public struct RuntimeSettings: Sendable, Equatable {
    public var name: String
    public var host: String
    public var port: Int
    /// Origins allowed to call the API from a browser (CORS) and to open the stock WebSocket.
    public var allowedOrigins: [String]
    /// Name of the environment variable holding the JWT signing secret (never the secret itself).
    public var jwtSecretEnv: String
    /// Serve public/ from the runtime too (handy in development; Nginx does it in production).
    public var serveStatic: Bool
    /// Addresses of reverse proxies whose X-Forwarded-For may be believed.
    public var trustedProxies: [String]
    /// bcrypt's work factor (log2 rounds) for new password hashes.
    public var bcryptCost: Int = 12
    /// Lifetime of an access token (a JWT kept in page memory).
    public var accessTokenMinutes: Int = 15
    /// Lifetime of a refresh token (and of a sign-in, since each use rotates it).
    public var refreshTokenDays: Int = 30
    /// A guest cart untouched for this long is removed by the runtime's hourly housekeeping.
    public var guestCartDays: Int = 30
    /// How long a just-spent refresh token still returns its successor (two tabs refreshing at once).
    public var refreshGraceSeconds: Int = 20
    /// Login and register attempts per client IP address.
    public var authRateLimitPerIP = RateLimit(perMinute: 20, burst: 10)
    /// Login attempts per account (email), whatever address they come from.
    public var authRateLimitPerAccount = RateLimit(perMinute: 6, burst: 5)

    /// A token bucket: `burst` requests at once, refilled at `perMinute`.
    public struct RateLimit: Sendable, Equatable {
        public var perMinute: Int
        public var burst: Int

        public init(perMinute: Int, burst: Int) {
            self.perMinute = perMinute
            self.burst = burst
        }
    }

    /// Production refuses what is only tolerable on a developer's machine.
    public var isProduction: Bool { name == "production" }
}

extension SiteConfig {
    /// Loads and checks site.yml. Every mistake is a `ConfigError` naming the file, line and key.
    public static func load(path: String) throws -> SiteConfig {
        let data: Data
        do {
            data = try Data(contentsOf: URL(fileURLWithPath: path))
        } catch {
            throw ConfigError(file: path, line: nil, keyPath: "", message: "cannot be read (\(Self.reason(error)))")
        }
        guard let text = String(data: data, encoding: .utf8) else {
            throw ConfigError(file: path, line: nil, keyPath: "", message: "is not UTF-8 text")
        }
        let directory = URL(fileURLWithPath: path).deletingLastPathComponent().standardizedFileURL.path
        return try parse(text, file: path, siteDirectory: directory)
    }

    public static func parse(_ text: String, file: String, siteDirectory: String) throws -> SiteConfig {
        let root = try YAMLMapping.parse(text, file: file)

        let title = try root.string("title") ?? "My Shop"
        let tagline = try root.string("tagline") ?? ""

        let baseText = try root.string("baseURL") ?? "http://127.0.0.1:8080/"
        guard let parsed = URL(string: baseText), let scheme = parsed.scheme?.lowercased(),
              scheme == "http" || scheme == "https", parsed.host != nil
        else {
            throw root.invalid("baseURL", "must be an absolute http(s) URL such as https://shop.example.com/, found \"\(baseText)\"")
        }
        let baseURL = baseText.hasSuffix("/") ? parsed : URL(string: baseText + "/")!

        let currencyText = try root.string("currency") ?? "USD"
        guard let currency = Currency(code: currencyText) else {
            throw root.invalid("currency", "must be an ISO 4217 code such as EUR or USD, found \"\(currencyText)\"")
        }

        let locale = try root.string("locale") ?? "en_US"
        guard !locale.isEmpty, locale.utf8.count <= 35,
              locale.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "_" || $0 == "-") })
        else {
            throw root.invalid("locale", "must be a locale identifier such as en_GB, found \"\(locale)\"")
        }

        let database = try root.string("database") ?? "ishop.sqlite"
        guard !database.isEmpty else { throw root.invalid("database", "must not be empty") }
        let publishDir = try nonEmptyPath(root, "publishDir") ?? "public"
        let theme = try root.string("theme") ?? "default"
        guard Handle.isValid(theme) else {
            throw root.invalid("theme", "must be a theme folder name (letters, digits, - and _), found \"\(theme)\"")
        }
        let themesDir = try nonEmptyPath(root, "themesDir") ?? "themes"
        let contentDir = try nonEmptyPath(root, "contentDir") ?? "content"

        let pageSize = try root.int("pageSize") ?? 24
        guard (1...1000).contains(pageSize) else { throw root.invalid("pageSize", "must be between 1 and 1000, found \(pageSize)") }

        let precompress = try root.bool("precompress") ?? true

        var outputs = Outputs()
        if let outputMap = try root.mapping("outputs") {
            outputs.tagCollections = try outputMap.bool("tagCollections") ?? true
            outputs.atomFeed = try outputMap.bool("atomFeed") ?? true
            outputs.merchantFeed = try outputMap.bool("merchantFeed") ?? true
            outputs.searchIndex = try outputMap.bool("searchIndex") ?? true
            try outputMap.rejectUnknownKeys()
        }

        var images = ImageSettings(widths: ImageSettings.defaultWidths)
        if let imageMap = try root.mapping("images") {
            if let widths = try imageMap.ints("widths") {
                guard !widths.isEmpty, widths.allSatisfy({ (16...8192).contains($0) }) else {
                    throw imageMap.invalid("widths", "must be a non-empty list of widths between 16 and 8192 pixels")
                }
                images.widths = Array(Set(widths)).sorted()
            }
            func bounded(_ map: YAMLMapping, _ key: String, _ range: ClosedRange<Int>, _ value: inout Int) throws {
                guard let found = try map.int(key) else { return }
                guard range.contains(found) else { throw map.invalid(key, "must be between \(range.lowerBound) and \(range.upperBound), found \(found)") }
                value = found
            }
            try bounded(imageMap, "quality", 1...100, &images.quality)
            try bounded(imageMap, "method", 0...6, &images.method)
            try bounded(imageMap, "fallbackWidth", 16...8192, &images.fallbackWidth)
            try bounded(imageMap, "maxPixels", 1...1_000_000_000, &images.maxPixels)
            if let cacheDir = try nonEmptyPath(imageMap, "cacheDir") { images.cacheDir = cacheDir }
            if let folders = try imageMap.strings("localFolders") {
                if let empty = folders.firstIndex(where: { $0.trimmingCharacters(in: .whitespaces).isEmpty }) {
                    throw imageMap.invalid("localFolders", "entry \(empty + 1) is empty")
                }
                images.localFolders = folders
            }
            if let fetch = try imageMap.mapping("fetch") {
                try bounded(fetch, "connectTimeoutMs", 1...600_000, &images.connectTimeoutMs)
                try bounded(fetch, "readTimeoutMs", 1...600_000, &images.readTimeoutMs)
                try bounded(fetch, "deadlineMs", 1...3_600_000, &images.deadlineMs)
                try bounded(fetch, "retries", 0...10, &images.retries)
                try bounded(fetch, "perHostConcurrency", 1...64, &images.perHostConcurrency)
                try bounded(fetch, "maxBytes", 1...1_000_000_000, &images.maxBytes)
                if let hosts = try fetch.strings("allowedPrivateHosts") { images.allowedPrivateHosts = hosts }
                try fetch.rejectUnknownKeys()
            }
            try imageMap.rejectUnknownKeys()
        }

        var environments: [String: RuntimeSettings] = [:]
        if let envMap = try root.mapping("environments") {
            for name in envMap.keys {
                guard let settings = try envMap.mapping(name) else {
                    environments[name] = RuntimeSettings.defaults(for: name)
                    continue
                }
                environments[name] = try RuntimeSettings.parse(settings, name: name)
            }
            try envMap.rejectUnknownKeys()
        }
        // Both standard environments always exist, so `--env production` works on a minimal site.yml.
        for name in ["development", "production"] where environments[name] == nil {
            environments[name] = RuntimeSettings.defaults(for: name)
        }

        try root.rejectUnknownKeys()
        var config = SiteConfig(
            title: title, tagline: tagline, baseURL: baseURL, currency: currency, locale: locale,
            database: database, publishDir: publishDir, theme: theme, themesDir: themesDir,
            contentDir: contentDir, pageSize: pageSize, precompress: precompress, images: images, environments: environments,
            siteDirectory: siteDirectory, sourceFile: file
        )
        config.outputs = outputs
        return config
    }

    private static func nonEmptyPath(_ map: YAMLMapping, _ key: String) throws -> String? {
        guard let value = try map.string(key) else { return nil }
        guard !value.isEmpty else { throw map.invalid(key, "must not be empty") }
        return value
    }

    static func reason(_ error: Error) -> String {
        let ns = error as NSError
        if let underlying = ns.userInfo[NSUnderlyingErrorKey] as? NSError, underlying.domain == NSPOSIXErrorDomain {
            return String(cString: strerror(Int32(underlying.code)))
        }
        if ns.domain == NSCocoaErrorDomain && ns.code == NSFileReadNoSuchFileError { return "no such file" }
        return ns.localizedDescription
    }
}

extension SiteConfig.ImageSettings {
    /// Every setting at its default (what an `images:`-less site.yml gives).
    public init() { self.init(widths: Self.defaultWidths) }
}

extension RuntimeSettings {
    public static func defaults(for name: String) -> RuntimeSettings {
        RuntimeSettings(
            name: name, host: "127.0.0.1", port: 8080,
            allowedOrigins: name == "development" ? ["http://localhost:*", "http://127.0.0.1:*"] : [],
            jwtSecretEnv: "ISHOP_JWT_SECRET", serveStatic: name == "development", trustedProxies: []
        )
    }

    static func rateLimit(_ map: YAMLMapping, _ key: String) throws -> RateLimit {
        let perMinute = try map.int("perMinute") ?? 10
        let burst = try map.int("burst") ?? perMinute
        guard (1...100_000).contains(perMinute) else { throw map.invalid("perMinute", "must be between 1 and 100000, found \(perMinute)") }
        guard (1...100_000).contains(burst) else { throw map.invalid("burst", "must be between 1 and 100000, found \(burst)") }
        try map.rejectUnknownKeys()
        return RateLimit(perMinute: perMinute, burst: burst)
    }

    static func parse(_ map: YAMLMapping, name: String) throws -> RuntimeSettings {
        var settings = RuntimeSettings.defaults(for: name)
        if let host = try map.string("host") {
            guard !host.isEmpty, !host.contains(where: { $0.isWhitespace || $0 == "/" }) else {
                throw map.invalid("host", "must be a host name or IP address, found \"\(host)\"")
            }
            settings.host = host
        }
        if let port = try map.int("port") {
            guard (0...65535).contains(port) else { throw map.invalid("port", "must be between 0 and 65535, found \(port)") }
            settings.port = port
        }
        if let origins = try map.strings("allowedOrigins") {
            for origin in origins {
                do {
                    _ = try OriginPolicy.Rule(parsing: origin)
                } catch {
                    throw map.invalid("allowedOrigins", "\(error)")
                }
            }
            settings.allowedOrigins = origins
        }
        if let secretEnv = try map.string("jwtSecretEnv") {
            guard !secretEnv.isEmpty, secretEnv.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "_") }) else {
                throw map.invalid("jwtSecretEnv", "must be the NAME of an environment variable (letters, digits, _), not the secret itself")
            }
            settings.jwtSecretEnv = secretEnv
        }
        if let serveStatic = try map.bool("serveStatic") { settings.serveStatic = serveStatic }
        if let proxies = try map.strings("trustedProxies") { settings.trustedProxies = proxies }
        if let cost = try map.int("bcryptCost") {
            guard (4...31).contains(cost) else { throw map.invalid("bcryptCost", "must be between 4 and 31, found \(cost)") }
            if name == "production" && cost < 10 {
                throw map.invalid("bcryptCost", "must be at least 10 in production, found \(cost)")
            }
            settings.bcryptCost = cost
        }
        if let minutes = try map.int("accessTokenMinutes") {
            guard (1...60).contains(minutes) else { throw map.invalid("accessTokenMinutes", "must be between 1 and 60, found \(minutes)") }
            settings.accessTokenMinutes = minutes
        }
        if let days = try map.int("refreshTokenDays") {
            guard (1...365).contains(days) else { throw map.invalid("refreshTokenDays", "must be between 1 and 365, found \(days)") }
            settings.refreshTokenDays = days
        }
        if let days = try map.int("guestCartDays") {
            guard (1...365).contains(days) else { throw map.invalid("guestCartDays", "must be between 1 and 365, found \(days)") }
            settings.guestCartDays = days
        }
        if let seconds = try map.int("refreshGraceSeconds") {
            guard (0...120).contains(seconds) else { throw map.invalid("refreshGraceSeconds", "must be between 0 and 120, found \(seconds)") }
            settings.refreshGraceSeconds = seconds
        }
        if let limits = try map.mapping("rateLimits") {
            if let perIP = try limits.mapping("authPerIP") { settings.authRateLimitPerIP = try Self.rateLimit(perIP, "authPerIP") }
            if let perAccount = try limits.mapping("authPerAccount") {
                settings.authRateLimitPerAccount = try Self.rateLimit(perAccount, "authPerAccount")
            }
            try limits.rejectUnknownKeys()
        }
        try map.rejectUnknownKeys()
        return settings
    }
}
