import Foundation
import Hummingbird
import Logging
import ShopCore
import ShopStore

/// `ishop serve`: the live half of a shop (API.md). This file only wires; the routes live in
/// their controllers and every rule about what is allowed lives in ShopCore's policies.
public enum Runtime {
    public struct StartupError: Error, CustomStringConvertible {
        public var description: String
    }

    /// Checks the environment's settings before anything listens: production refuses what is
    /// only tolerable on a developer's machine.
    public static func checkSettings(_ settings: RuntimeSettings, environment: [String: String]) throws -> OriginPolicy {
        let policy: OriginPolicy
        do {
            policy = try OriginPolicy(allowing: settings.allowedOrigins)
        } catch {
            throw StartupError(description: "environments.\(settings.name).allowedOrigins: \(error)")
        }
        if settings.isProduction {
            if let problem = policy.productionProblems.first {
                throw StartupError(description: "refusing to start in production: allowed origin \(problem); list exact https origins")
            }
            let secret = environment[settings.jwtSecretEnv] ?? ""
            guard secret.utf8.count >= 32 else {
                throw StartupError(description: secret.isEmpty
                    ? "refusing to start in production: the environment variable \(settings.jwtSecretEnv) (the JWT secret) is not set"
                    : "refusing to start in production: \(settings.jwtSecretEnv) must hold at least 32 bytes")
            }
        }
        return policy
    }

    /// The key that signs access tokens: the environment variable site.yml names. Production
    /// refuses to start without one (checkSettings); development makes up a random one, so the
    /// example shop runs with nothing set (sign-ins then last until the runtime restarts).
    public static func jwtSecret(_ settings: RuntimeSettings, environment: [String: String], logger: Logger? = nil) throws -> [UInt8] {
        if let secret = environment[settings.jwtSecretEnv], !secret.isEmpty {
            guard secret.utf8.count >= 32 else {
                throw StartupError(description: "\(settings.jwtSecretEnv) must hold at least 32 bytes (a random string, say `openssl rand -hex 32`)")
            }
            return Array(secret.utf8)
        }
        guard !settings.isProduction else {
            throw StartupError(description: "refusing to start in production: the environment variable \(settings.jwtSecretEnv) (the JWT secret) is not set")
        }
        logger?.notice("no JWT secret in the environment: using a random one; sign-ins end when the runtime stops",
                       metadata: ["variable": "\(settings.jwtSecretEnv)"])
        return Secrets.randomBytes(32)
    }

    /// The router with every route and middleware, usable by tests without a socket.
    public static func router(
        config: SiteConfig, settings: RuntimeSettings, policy: OriginPolicy, store: any CommerceStore, publicDirectory: String?,
        secret: [UInt8]? = nil, hub: StockHub, socketSettings: StockSocketSettings = StockSocketSettings(),
        metrics: RuntimeMetrics = RuntimeMetrics()
    ) -> Router<ShopRequestContext> {
        let router = Router(context: ShopRequestContext.self, options: .autoGenerateHeadEndpoints)
        router.add(middleware: ObservationMiddleware(metrics: metrics))
        router.add(middleware: CORSPolicyMiddleware(policy: policy))
        router.add(middleware: SecurityHeadersMiddleware())
        router.add(middleware: ErrorShapeMiddleware(notFoundPage: publicDirectory.map { "\($0)/404.html" }))
        if let publicDirectory {
            router.add(middleware: FileMiddleware(publicDirectory, searchForIndexHtml: true))
        }

        router.get("/healthz") { _, _ in
            Response(status: .ok, headers: [.contentType: "text/plain; charset=utf-8", .cacheControl: "no-store"],
                     body: .init(byteBuffer: ByteBuffer(string: "ok")))
        }
        router.get("/readyz") { _, context in
            do {
                try await store.ping()
            } catch {
                context.logger.warning("not ready: the database does not answer", metadata: ["error": "\(error)"])
                throw APIError(.serviceUnavailable, "not_ready", "The database does not answer.")
            }
            return Response(status: .ok, headers: [.contentType: "text/plain; charset=utf-8", .cacheControl: "no-store"],
                            body: .init(byteBuffer: ByteBuffer(string: "ready")))
        }
        router.get("/metrics") { _, _ in
            Response(status: .ok, headers: [.contentType: "text/plain; version=0.0.4; charset=utf-8", .cacheControl: "no-store"],
                     body: .init(byteBuffer: ByteBuffer(string: metrics.text())))
        }
        CatalogController<ShopRequestContext>(store: store, currency: config.currency).addRoutes(to: router)

        let limits = CartLimits()
        let auth = AuthService(store: store, settings: settings, secret: secret ?? Secrets.randomBytes(32))
        AuthController(auth: auth, store: store, cartLimits: limits, policy: policy,
                       clientAddress: ClientAddress(trustedProxies: settings.trustedProxies),
                       perIP: RateLimiter(settings.authRateLimitPerIP), perAccount: RateLimiter(settings.authRateLimitPerAccount),
                       secureCookie: settings.name != "development").addRoutes(to: router)
        // The routes that act for a caller: the Authenticator puts who it is on the context.
        let forCaller = router.group().add(middleware: Authenticator(tokens: auth.tokens))
        CartController(store: store, currency: config.currency, limits: limits).addRoutes(to: forCaller)
        OrderController(store: store, currency: config.currency, events: hub, metrics: metrics).addRoutes(to: forCaller)
        // GET /ws/stock as plain HTTP: why a handshake was refused (the upgrade itself happens in
        // StockSocketChannel, before routing).
        StockSockets(hub: hub, policy: policy, settings: socketSettings, metrics: metrics).addRoutes(to: router)
        return router
    }

    public static func application(
        config: SiteConfig, settings: RuntimeSettings, policy: OriginPolicy, store: any CommerceStore, publicDirectory: String?,
        secret: [UInt8], hub: StockHub, socketSettings: StockSocketSettings = StockSocketSettings(),
        metrics: RuntimeMetrics = RuntimeMetrics(), logger: Logger,
        onServerRunning: @escaping @Sendable (Int) async -> Void = { _ in }
    ) -> some ApplicationProtocol {
        let router = router(config: config, settings: settings, policy: policy, store: store, publicDirectory: publicDirectory,
                            secret: secret, hub: hub, socketSettings: socketSettings, metrics: metrics)
        let connections = metrics.openConnections
        let sockets = StockSockets(hub: hub, policy: policy, settings: socketSettings, metrics: metrics)
        return Application(
            router: router,
            server: .http1WithStockSocket(sockets, http1: .init(additionalChannelHandlers: [OpenConnectionsHandler(gauge: connections)])),
            configuration: .init(address: .hostname(settings.host, port: settings.port), serverName: "ishop"),
            // The hub runs beside the server and stops with it (graceful shutdown closes the sockets).
            services: [hub, Housekeeping(store: store, guestCartDays: settings.guestCartDays, logger: logger)],
            onServerRunning: { channel in await onServerRunning(channel.localAddress?.port ?? settings.port) },
            logger: logger
        )
    }
}
