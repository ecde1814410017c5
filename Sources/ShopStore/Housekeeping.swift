import Foundation
import GRDB
import PostgresNIO

/// What one housekeeping pass removed.
public struct HousekeepingResult: Sendable, Equatable {
    public var guestCarts = 0
    public var refreshTokens = 0
    public init(guestCarts: Int = 0, refreshTokens: Int = 0) {
        self.guestCarts = guestCarts
        self.refreshTokens = refreshTokens
    }
}

// Guest carts are made by anyone who adds a product without signing in, and refresh tokens by
// every sign-in and refresh: without a sweep both tables grow for ever. A guest cart goes when
// it has not been touched for the configured days (its token is then useless: the next add
// starts a new cart). Refresh tokens go a whole family at a time, once every token of it has
// expired: while one is alive, its spent siblings are what detects a stolen token's reuse.

extension SQLiteStore {
    public func removeExpired(guestCartsUntouchedSince cartCutoff: Int64, now: Int64) async throws -> HousekeepingResult {
        try await pool.write { db in
            try db.execute(sql: "DELETE FROM carts WHERE guest_token_hash IS NOT NULL AND updated_at < ?", arguments: [cartCutoff])
            let carts = db.changesCount
            try db.execute(sql: """
                DELETE FROM refresh_tokens WHERE family_id IN (
                    SELECT family_id FROM refresh_tokens GROUP BY family_id HAVING MAX(expires_at) < ?)
                """, arguments: [now])
            return HousekeepingResult(guestCarts: carts, refreshTokens: db.changesCount)
        }
    }
}

extension PostgresStore {
    public func removeExpired(guestCartsUntouchedSince cartCutoff: Int64, now: Int64) async throws -> HousekeepingResult {
        // Each statement on its own: a cart being edited holds its row lock, the DELETE waits for
        // it and then sees the new updated_at, so a cart in use is never swept.
        var result = HousekeepingResult()
        let carts = try await client.query(
            "DELETE FROM carts WHERE guest_token_hash IS NOT NULL AND updated_at < \(cartCutoff) RETURNING 1", logger: logger)
        for try await _ in carts { result.guestCarts += 1 }
        let tokens = try await client.query("""
            DELETE FROM refresh_tokens WHERE family_id IN (
                SELECT family_id FROM refresh_tokens GROUP BY family_id HAVING MAX(expires_at) < \(now))
            RETURNING 1
            """, logger: logger)
        for try await _ in tokens { result.refreshTokens += 1 }
        return result
    }
}
