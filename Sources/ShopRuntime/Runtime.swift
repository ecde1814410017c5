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

    /// The router with every route and middleware, usable by tests without a socket.
    public static func router(
        config: SiteConfig, settings: RuntimeSettings, policy: OriginPolicy, store: any Store, publicDirectory: String?
    ) -> Router<ShopRequestContext> {
        let router = Router(context: ShopRequestContext.self, options: .autoGenerateHeadEndpoints)
        router.add(middleware: LogRequestsMiddleware(.info))
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
        CatalogController<ShopRequestContext>(store: store, currency: config.currency).addRoutes(to: router)
        return router
    }

    public static func application(
        config: SiteConfig, settings: RuntimeSettings, policy: OriginPolicy, store: any Store, publicDirectory: String?,
        logger: Logger, onServerRunning: @escaping @Sendable (Int) async -> Void = { _ in }
    ) -> some ApplicationProtocol {
        let router = router(config: config, settings: settings, policy: policy, store: store, publicDirectory: publicDirectory)
        return Application(
            router: router,
            configuration: .init(address: .hostname(settings.host, port: settings.port), serverName: "ishop"),
            onServerRunning: { channel in await onServerRunning(channel.localAddress?.port ?? settings.port) },
            logger: logger
        )
    }
}
