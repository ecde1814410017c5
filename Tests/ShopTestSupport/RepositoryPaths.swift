import Foundation

/// Where the repository and the shared fixtures beside it are, found from this file's own path
/// (Tests/ShopTestSupport/RepositoryPaths.swift), so that tests run from any working directory.
public enum Repository {
    /// The package root: three levels above this file.
    public static var root: URL {
        URL(fileURLWithPath: #filePath)
            .deletingLastPathComponent()  // RepositoryPaths.swift
            .deletingLastPathComponent()  // ShopTestSupport
            .deletingLastPathComponent()  // Tests
    }

    /// The path of `relative` inside the repository, e.g. "site.yml".
    public static func path(_ relative: String) -> String { root.appendingPathComponent(relative).path }

    /// The example shop's catalog, the file most tests import.
    public static var exampleCatalog: String { path("catalog/products.csv") }

    /// ../shared, beside the repository: fixtures and bench tools too large or too general to commit here.
    public static var shared: URL { root.deletingLastPathComponent().appendingPathComponent("shared") }

    public static var sharedFixtures: URL { shared.appendingPathComponent("fixtures") }

    /// Real Shopify product exports.
    public static var shopifyFixtures: URL { sharedFixtures.appendingPathComponent("shopify") }

    /// The path of one Shopify export, e.g. "apparel.csv", as the importer takes it.
    public static func shopifyFixture(_ name: String) -> String { shopifyFixtures.appendingPathComponent(name).path }

    /// Every *.csv among the Shopify exports, sorted (none when ../shared is missing, so that a
    /// parameterised test then has no cases rather than failing to load).
    public static func shopifyFixtureNames() -> [String] {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: shopifyFixtures.path)) ?? []
        return names.filter { $0.hasSuffix(".csv") }.sorted()
    }

    /// Product photos (JPEG and PNG), for the image pipeline and the stand-in CDN.
    public static var photos: URL { sharedFixtures.appendingPathComponent("photos") }

    /// The bench tools: gen_catalog.py (generated catalogs) and cdn.py (the stand-in CDN).
    public static var bench: URL { shared.appendingPathComponent("bench") }
}
