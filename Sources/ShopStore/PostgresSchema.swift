import Logging
import PostgresNIO

/// The catalog schema on PostgreSQL: the same migrations as SQLiteSchema, migration for
/// migration, in PostgreSQL's types. Never edit one that has shipped; add a new one.
enum PostgresSchema {
    static let migrations: [(identifier: String, sql: [String])] = [
        ("v1-catalog", [
            """
            CREATE TABLE products (
                id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
                handle TEXT NOT NULL UNIQUE,
                title TEXT NOT NULL,
                body_html TEXT NOT NULL DEFAULT '',
                vendor TEXT NOT NULL DEFAULT '',
                product_type TEXT NOT NULL DEFAULT '',
                published BOOLEAN NOT NULL DEFAULT TRUE,
                seo_title TEXT NOT NULL DEFAULT '',
                seo_description TEXT NOT NULL DEFAULT '',
                option1_name TEXT,
                option2_name TEXT,
                option3_name TEXT,
                created_at TEXT NOT NULL,
                updated_at TEXT NOT NULL
            )
            """,
            """
            CREATE TABLE variants (
                id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
                product_id BIGINT NOT NULL REFERENCES products(id) ON DELETE CASCADE,
                position INTEGER NOT NULL,
                sku TEXT NOT NULL UNIQUE,
                option1 TEXT,
                option2 TEXT,
                option3 TEXT,
                price_cents BIGINT NOT NULL CHECK (price_cents >= 0),
                compare_at_cents BIGINT CHECK (compare_at_cents IS NULL OR compare_at_cents >= 0),
                stock BIGINT NOT NULL DEFAULT 0 CHECK (stock >= 0),
                inventory_policy TEXT NOT NULL DEFAULT 'deny' CHECK (inventory_policy IN ('deny', 'continue')),
                grams BIGINT NOT NULL DEFAULT 0,
                requires_shipping BOOLEAN NOT NULL DEFAULT TRUE,
                taxable BOOLEAN NOT NULL DEFAULT TRUE,
                barcode TEXT NOT NULL DEFAULT '',
                image_src TEXT NOT NULL DEFAULT '',
                weight_unit TEXT NOT NULL DEFAULT '',
                updated_at TEXT NOT NULL
            )
            """,
            "CREATE INDEX variants_by_product ON variants(product_id, position)",
            """
            CREATE TABLE images (
                id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
                product_id BIGINT NOT NULL REFERENCES products(id) ON DELETE CASCADE,
                position INTEGER NOT NULL,
                src TEXT NOT NULL,
                alt TEXT NOT NULL DEFAULT '',
                UNIQUE (product_id, position)
            )
            """,
            """
            CREATE TABLE collections (
                id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
                handle TEXT NOT NULL UNIQUE,
                title TEXT NOT NULL
            )
            """,
            """
            CREATE TABLE product_collections (
                product_id BIGINT NOT NULL REFERENCES products(id) ON DELETE CASCADE,
                collection_id BIGINT NOT NULL REFERENCES collections(id) ON DELETE CASCADE,
                PRIMARY KEY (product_id, collection_id)
            )
            """,
            """
            CREATE TABLE tags (
                product_id BIGINT NOT NULL REFERENCES products(id) ON DELETE CASCADE,
                name TEXT NOT NULL,
                position INTEGER NOT NULL,
                PRIMARY KEY (product_id, name)
            )
            """,
        ]),
        // The runtime's own tables. Times are Unix seconds. Secrets are stored hashed only.
        ("v2-commerce", [
            """
            CREATE TABLE users (
                id TEXT PRIMARY KEY,
                email TEXT NOT NULL UNIQUE,
                password_hash TEXT NOT NULL,
                role TEXT NOT NULL DEFAULT 'customer' CHECK (role IN ('customer', 'admin')),
                created_at BIGINT NOT NULL
            )
            """,
            """
            CREATE TABLE refresh_tokens (
                token_hash TEXT PRIMARY KEY,
                family_id TEXT NOT NULL,
                user_id TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
                issued_at BIGINT NOT NULL,
                expires_at BIGINT NOT NULL,
                spent_at BIGINT,
                successor_hash TEXT,
                revoked_at BIGINT
            )
            """,
            "CREATE INDEX refresh_tokens_by_family ON refresh_tokens(family_id)",
            """
            CREATE TABLE carts (
                id TEXT PRIMARY KEY,
                guest_token_hash TEXT UNIQUE,
                user_id TEXT UNIQUE REFERENCES users(id) ON DELETE CASCADE,
                created_at BIGINT NOT NULL,
                updated_at BIGINT NOT NULL,
                CHECK ((guest_token_hash IS NULL) <> (user_id IS NULL))
            )
            """,
            """
            CREATE TABLE cart_items (
                id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
                cart_id TEXT NOT NULL REFERENCES carts(id) ON DELETE CASCADE,
                sku TEXT NOT NULL,
                quantity BIGINT NOT NULL CHECK (quantity >= 1),
                UNIQUE (cart_id, sku)
            )
            """,
            """
            CREATE TABLE orders (
                id TEXT PRIMARY KEY,
                user_id TEXT NOT NULL REFERENCES users(id),
                idempotency_key TEXT NOT NULL,
                total_cents BIGINT NOT NULL CHECK (total_cents >= 0),
                currency TEXT NOT NULL,
                created_at BIGINT NOT NULL,
                UNIQUE (user_id, idempotency_key)
            )
            """,
            """
            CREATE TABLE order_items (
                order_id TEXT NOT NULL REFERENCES orders(id) ON DELETE CASCADE,
                position INTEGER NOT NULL,
                sku TEXT NOT NULL,
                title TEXT NOT NULL,
                quantity BIGINT NOT NULL CHECK (quantity >= 1),
                unit_price_cents BIGINT NOT NULL CHECK (unit_price_cents >= 0),
                PRIMARY KEY (order_id, position)
            )
            """,
        ]),
        // Live stock (issue 7); see SQLiteSchema. Identity values are never reused.
        ("v3-stock-events", [
            """
            CREATE TABLE stock_events (
                seq BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
                sku TEXT NOT NULL,
                stock BIGINT NOT NULL,
                created_at BIGINT NOT NULL
            )
            """,
            "CREATE INDEX stock_events_by_sku ON stock_events(sku, seq)",
            """
            CREATE TABLE stock_event_horizon (
                id INTEGER PRIMARY KEY CHECK (id = 1),
                pruned_through BIGINT NOT NULL
            )
            """,
            "INSERT INTO stock_event_horizon (id, pruned_through) VALUES (1, 0)",
        ]),
        // No "v4-catalog-revision" here, on purpose: SQLite's is a one-row counter that triggers
        // update on every catalog write, and here that row's lock would make concurrent
        // checkouts of different SKUs wait for each other. The runtime keeps no catalog answers
        // in memory on PostgreSQL (see CatalogRevisions).

        // Tags read in product and position order without a sort. SQLite's v5 also extends its
        // revision triggers to images and tags; here there are none (see v4).
        ("v5-catalog-reading", [
            "CREATE INDEX tags_by_product ON tags(product_id, position, name)",
        ]),
        // Backorders: see SQLiteSchema.
        ("v6-backorders", [
            "ALTER TABLE order_items ADD COLUMN backordered BIGINT NOT NULL DEFAULT 0 CHECK (backordered >= 0 AND backordered <= quantity)",
        ]),
        // See SQLiteSchema: written on every import, never read.
        ("v7-no-collection-tables", [
            "DROP TABLE product_collections",
            "DROP TABLE collections",
        ]),
    ]

    /// Applies what is missing, in one transaction under an advisory lock, so that several
    /// runtimes starting at once migrate exactly once.
    static func migrate(_ connection: PostgresConnection, location: String, logger: Logger) async throws {
        try await connection.query("BEGIN", logger: logger)
        do {
            try await connection.query("SELECT pg_advisory_xact_lock(\(PostgresStore.catalogWriteLock))", logger: logger)
            try await connection.query("""
                CREATE TABLE IF NOT EXISTS ishop_migrations (identifier TEXT PRIMARY KEY, applied_at TIMESTAMPTZ NOT NULL DEFAULT now())
                """, logger: logger)
            var applied: Set<String> = []
            for try await identifier in try await connection.query("SELECT identifier FROM ishop_migrations", logger: logger)
                .decode(String.self)
            {
                applied.insert(identifier)
            }
            let known = Set(migrations.map(\.identifier))
            if let unknown = applied.sorted().first(where: { !known.contains($0) }) {
                throw StoreError.schemaTooNew(location: location, migration: unknown)
            }
            for migration in migrations where !applied.contains(migration.identifier) {
                for statement in migration.sql {
                    try await connection.query(PostgresQuery(unsafeSQL: statement), logger: logger)
                }
                try await connection.query("INSERT INTO ishop_migrations (identifier) VALUES (\(migration.identifier))", logger: logger)
            }
            try await connection.query("COMMIT", logger: logger)
        } catch {
            _ = try? await connection.query("ROLLBACK", logger: logger)
            throw error
        }
    }
}
