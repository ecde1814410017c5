import Foundation
import Logging
import ServiceLifecycle
import ShopStore

/// Sweeps what shoppers leave behind (ShopStore's Housekeeping.swift): guest carts untouched for
/// `guestCartDays` and refresh-token families that have wholly expired. Runs once at start and
/// then every `interval`, beside the HTTP server; several instances on one database may sweep at
/// once, which is harmless (each DELETE is its own statement over rows nobody uses).
public struct Housekeeping: Service {
    let store: any CommerceStore
    let guestCartDays: Int
    let interval: Duration
    let logger: Logger

    public init(store: any CommerceStore, guestCartDays: Int, interval: Duration = .seconds(3600), logger: Logger) {
        self.store = store
        self.guestCartDays = guestCartDays
        self.interval = interval
        self.logger = logger
    }

    /// One pass at `now` (seconds since 1970); what it removed.
    @discardableResult
    public func sweep(now: Int64 = Int64(Date().timeIntervalSince1970)) async -> HousekeepingResult? {
        do {
            let removed = try await store.removeExpired(guestCartsUntouchedSince: now - Int64(guestCartDays) * 86_400, now: now)
            if removed != HousekeepingResult() {
                logger.info("housekeeping", metadata: ["guest_carts_removed": "\(removed.guestCarts)",
                                                       "refresh_tokens_removed": "\(removed.refreshTokens)"])
            }
            return removed
        } catch {
            // The next pass tries again; a database that is down is /readyz's business.
            logger.warning("housekeeping failed", metadata: ["error": "\(error)"])
            return nil
        }
    }

    public func run() async throws {
        await cancelWhenGracefulShutdown {
            while !Task.isCancelled {
                await sweep()
                try? await Task.sleep(for: interval)
            }
        }
    }
}
