import GRDB

/// The catalog schema, as versioned migrations run automatically when a store opens.
/// Never edit a migration that has shipped: add a new one. PostgreSQL's migrations must mean
/// the same, migration for migration.
enum SQLiteSchema {
    static let migrator: DatabaseMigrator = {
        var migrator = DatabaseMigrator()
        migrator.registerMigration("v1-catalog") { db in
            try db.execute(sql: """
                CREATE TABLE products (
                    id INTEGER PRIMARY KEY,
                    handle TEXT NOT NULL UNIQUE,
                    title TEXT NOT NULL,
                    body_html TEXT NOT NULL DEFAULT '',
                    vendor TEXT NOT NULL DEFAULT '',
                    product_type TEXT NOT NULL DEFAULT '',
                    published BOOLEAN NOT NULL DEFAULT 1,
                    seo_title TEXT NOT NULL DEFAULT '',
                    seo_description TEXT NOT NULL DEFAULT '',
                    option1_name TEXT,
                    option2_name TEXT,
                    option3_name TEXT,
                    created_at TEXT NOT NULL,
                    updated_at TEXT NOT NULL
                );
                CREATE TABLE variants (
                    id INTEGER PRIMARY KEY,
                    product_id INTEGER NOT NULL REFERENCES products(id) ON DELETE CASCADE,
                    position INTEGER NOT NULL,
                    sku TEXT NOT NULL UNIQUE,
                    option1 TEXT,
                    option2 TEXT,
                    option3 TEXT,
                    price_cents INTEGER NOT NULL CHECK (price_cents >= 0),
                    compare_at_cents INTEGER CHECK (compare_at_cents IS NULL OR compare_at_cents >= 0),
                    -- The database itself refuses an oversell, whatever the code above it does.
                    stock INTEGER NOT NULL DEFAULT 0 CHECK (stock >= 0),
                    inventory_policy TEXT NOT NULL DEFAULT 'deny' CHECK (inventory_policy IN ('deny', 'continue')),
                    grams INTEGER NOT NULL DEFAULT 0,
                    requires_shipping BOOLEAN NOT NULL DEFAULT 1,
                    taxable BOOLEAN NOT NULL DEFAULT 1,
                    barcode TEXT NOT NULL DEFAULT '',
                    image_src TEXT NOT NULL DEFAULT '',
                    weight_unit TEXT NOT NULL DEFAULT '',
                    updated_at TEXT NOT NULL
                );
                CREATE INDEX variants_by_product ON variants(product_id, position);
                CREATE TABLE images (
                    id INTEGER PRIMARY KEY,
                    product_id INTEGER NOT NULL REFERENCES products(id) ON DELETE CASCADE,
                    position INTEGER NOT NULL,
                    src TEXT NOT NULL,
                    alt TEXT NOT NULL DEFAULT '',
                    UNIQUE (product_id, position)
                );
                CREATE TABLE collections (
                    id INTEGER PRIMARY KEY,
                    handle TEXT NOT NULL UNIQUE,
                    title TEXT NOT NULL
                );
                CREATE TABLE product_collections (
                    product_id INTEGER NOT NULL REFERENCES products(id) ON DELETE CASCADE,
                    collection_id INTEGER NOT NULL REFERENCES collections(id) ON DELETE CASCADE,
                    PRIMARY KEY (product_id, collection_id)
                );
                CREATE TABLE tags (
                    product_id INTEGER NOT NULL REFERENCES products(id) ON DELETE CASCADE,
                    name TEXT NOT NULL,
                    position INTEGER NOT NULL,
                    PRIMARY KEY (product_id, name)
                );
                """)
        }
        // The runtime's own tables. Times are Unix seconds. Secrets are stored hashed only.
        migrator.registerMigration("v2-commerce") { db in
            try db.execute(sql: """
                CREATE TABLE users (
                    id TEXT PRIMARY KEY,
                    email TEXT NOT NULL UNIQUE,
                    password_hash TEXT NOT NULL,
                    role TEXT NOT NULL DEFAULT 'customer' CHECK (role IN ('customer', 'admin')),
                    created_at INTEGER NOT NULL
                );
                CREATE TABLE refresh_tokens (
                    token_hash TEXT PRIMARY KEY,
                    family_id TEXT NOT NULL,
                    user_id TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
                    issued_at INTEGER NOT NULL,
                    expires_at INTEGER NOT NULL,
                    spent_at INTEGER,
                    successor_hash TEXT,
                    revoked_at INTEGER
                );
                CREATE INDEX refresh_tokens_by_family ON refresh_tokens(family_id);
                CREATE TABLE carts (
                    id TEXT PRIMARY KEY,
                    guest_token_hash TEXT UNIQUE,
                    user_id TEXT UNIQUE REFERENCES users(id) ON DELETE CASCADE,
                    created_at INTEGER NOT NULL,
                    updated_at INTEGER NOT NULL,
                    -- A cart belongs to a guest or to a user, never to both or neither.
                    CHECK ((guest_token_hash IS NULL) <> (user_id IS NULL))
                );
                CREATE TABLE cart_items (
                    id INTEGER PRIMARY KEY,
                    cart_id TEXT NOT NULL REFERENCES carts(id) ON DELETE CASCADE,
                    sku TEXT NOT NULL,
                    quantity INTEGER NOT NULL CHECK (quantity >= 1),
                    UNIQUE (cart_id, sku)
                );
                CREATE TABLE orders (
                    id TEXT PRIMARY KEY,
                    user_id TEXT NOT NULL REFERENCES users(id),
                    idempotency_key TEXT NOT NULL,
                    total_cents INTEGER NOT NULL CHECK (total_cents >= 0),
                    currency TEXT NOT NULL,
                    created_at INTEGER NOT NULL,
                    -- The same key of the same user can never make two orders.
                    UNIQUE (user_id, idempotency_key)
                );
                CREATE TABLE order_items (
                    order_id TEXT NOT NULL REFERENCES orders(id) ON DELETE CASCADE,
                    position INTEGER NOT NULL,
                    sku TEXT NOT NULL,
                    title TEXT NOT NULL,
                    quantity INTEGER NOT NULL CHECK (quantity >= 1),
                    unit_price_cents INTEGER NOT NULL CHECK (unit_price_cents >= 0),
                    PRIMARY KEY (order_id, position)
                );
                """)
        }
        // Live stock (issue 7): every committed stock change, so a runtime (or a client resuming
        // with ?since=) can tell what changed after a seq. AUTOINCREMENT: a seq is never reused,
        // even after the newest rows were pruned. The horizon says up to where rows may be gone.
        migrator.registerMigration("v3-stock-events") { db in
            try db.execute(sql: """
                CREATE TABLE stock_events (
                    seq INTEGER PRIMARY KEY AUTOINCREMENT,
                    sku TEXT NOT NULL,
                    stock INTEGER NOT NULL,
                    created_at INTEGER NOT NULL
                );
                CREATE INDEX stock_events_by_sku ON stock_events(sku, seq);
                CREATE TABLE stock_event_horizon (
                    id INTEGER PRIMARY KEY CHECK (id = 1),
                    pruned_through INTEGER NOT NULL
                );
                INSERT INTO stock_event_horizon (id, pruned_through) VALUES (1, 0);
                """)
        }
        // The catalog revision (CatalogRevisions): bumped by triggers, so a change made by any
        // process or connection counts, whatever path it took. Row triggers on the tables the
        // runtime's catalog answers come from (products, variants; images and tags are not in
        // them; v5 adds them for the build's catalog read). An import pays one small update per row it writes. SQLite only: see
        // CatalogRevisions for why PostgreSQL has no counterpart (the one exception to "the same
        // migrations on both").
        migrator.registerMigration("v4-catalog-revision") { db in
            var sql = """
                CREATE TABLE catalog_revision (
                    id INTEGER PRIMARY KEY CHECK (id = 1),
                    revision INTEGER NOT NULL
                );
                INSERT INTO catalog_revision (id, revision) VALUES (1, 1);

                """
            for table in ["products", "variants"] {
                for event in ["INSERT", "UPDATE", "DELETE"] {
                    sql += """
                        CREATE TRIGGER \(table)_revised_on_\(event.lowercased()) AFTER \(event) ON \(table)
                        BEGIN UPDATE catalog_revision SET revision = revision + 1 WHERE id = 1; END;

                        """
                }
            }
            try db.execute(sql: sql)
        }
        // Reading the catalog for a build (SQLiteStore.catalog). Tags are read whole in product
        // and position order, which their primary key (product_id, name) does not give: SQLite
        // sorted 34,000 rows in a temporary B-tree, a fifth of the catalog read of 10,000
        // products. The index covers the query, so it is read alone, in order. And the revision
        // now counts changes to images and tags as well, so that a build may read products and
        // their children on two connections at once and tell that both saw the same commit.
        // Imports pay one small update per image and tag row they write, and the runtime's
        // cached answers are dropped on such edits too (they do not show images or tags).
        // Immediate foreign key checks: the migration adds no reference, and the deferred check
        // of the whole file would refuse a database with rows orphaned by hand-typed SQL
        // (the sqlite3 shell has foreign keys off), leaving every command unable to open it.
        migrator.registerMigration("v5-catalog-reading", foreignKeyChecks: .immediate) { db in
            var sql = "CREATE INDEX tags_by_product ON tags(product_id, position, name);\n"
            for table in ["images", "tags"] {
                for event in ["INSERT", "UPDATE", "DELETE"] {
                    sql += """
                        CREATE TRIGGER \(table)_revised_on_\(event.lowercased()) AFTER \(event) ON \(table)
                        BEGIN UPDATE catalog_revision SET revision = revision + 1 WHERE id = 1; END;

                        """
                }
            }
            try db.execute(sql: sql)
        }
        // Backorders (API.md v2): a `continue` variant sells past its stock and the order line
        // records how many of its units were not on the shelf. Immediate foreign key checks, as v5.
        migrator.registerMigration("v6-backorders", foreignKeyChecks: .immediate) { db in
            try db.execute(sql: """
                ALTER TABLE order_items ADD COLUMN backordered INTEGER NOT NULL DEFAULT 0 CHECK (backordered >= 0)
                """)
        }
        // The collections tables of v1 were written on every import and never read: the build
        // gathers collections from the products' types and tags (ProductCollection).
        migrator.registerMigration("v7-no-collection-tables", foreignKeyChecks: .immediate) { db in
            try db.execute(sql: "DROP TABLE product_collections; DROP TABLE collections;")
        }
        return migrator
    }()
}
