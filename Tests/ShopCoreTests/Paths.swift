import Foundation

/// Where the repository and the shared fixtures are, found from this file's own path
/// (Tests/ShopCoreTests/Paths.swift), so tests work from any working directory.
enum Paths {
    static var repositoryRoot: URL {
        URL(fileURLWithPath: #filePath)
            .deletingLastPathComponent()  // Paths.swift
            .deletingLastPathComponent()  // ShopCoreTests
            .deletingLastPathComponent()  // Tests
    }

    static var sharedFixtures: URL {
        repositoryRoot.deletingLastPathComponent().appendingPathComponent("shared/fixtures")
    }
}
