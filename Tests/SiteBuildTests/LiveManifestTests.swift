import Foundation
import ShopCore
import ShopTestSupport
@testable import SiteBuild
import Testing

/// A build reads the live site's manifest before it holds the output folder's lock (to find out
/// cheaply that nothing changed). If another build published in between, that manifest is its
/// predecessor's: trusting it would link files of the new live site under digests they do not have.
@Suite("Live manifest read before the lock")
struct LiveManifestTests {
    @Test("A manifest whose file was replaced since it was read is read again; an unchanged one is used as given")
    func staleManifestIsReadAgain() async throws {
        let shop = try await ExampleShop.make()
        defer { shop.remove() }
        _ = try await shop.buildOnFixedDate()
        let earlierIdentity = try #require(BuildManifest.identity(folder: shop.output))
        let earlier = try #require(BuildManifest.load(folder: shop.output))

        // Another build publishes (one product changed).
        var fig = try #require(try await shop.store.catalog(includeUnpublished: true).first { $0.handle == "fig-bowl-print" })
        fig.variants[0].priceCents += 100
        _ = try await shop.store.upsert([fig])
        _ = try await shop.buildOnFixedDate()
        let current = try #require(BuildManifest.load(folder: shop.output))
        #expect(current != earlier)
        let currentIdentity = try #require(BuildManifest.identity(folder: shop.output))
        #expect(currentIdentity != earlierIdentity)

        do {
            let tree = try OutputTree(publishPath: shop.output, live: earlier, liveIdentity: earlierIdentity)
            #expect(tree.live == current.outputs, "the stale manifest was not trusted")
            tree.abandon()
        }
        do {
            // The same file as when it was read: what the caller read is used, not read again.
            var given = current
            given.outputs["only-in-the-given-manifest.html"] = "digest"
            let tree = try OutputTree(publishPath: shop.output, live: given, liveIdentity: currentIdentity)
            #expect(tree.live["only-in-the-given-manifest.html"] == "digest")
            tree.abandon()
        }
    }
}

/// The manifest a build publishes is made from its plan on another thread while pages render;
/// it is written only when it says exactly what the tree recorded.
@Suite("Manifest made ahead of publishing")
struct EncodedManifestTests {
    /// A tree of three pages, recorded in this order with these digests.
    static func record(_ tree: OutputTree, _ outputs: [(String, String)]) throws {
        for (path, digest) in outputs {
            try tree.prepare(path, digest: digest)
            let bytes = Array("\(path) \(digest)\n".utf8)
            let written = try bytes.withUnsafeBytes { try tree.writer.write(path, bytes: $0, compressed: nil) }
            tree.recordWritten(path, digest: digest, written)
        }
    }

    static let outputs = [("index.html", "d-home"), ("products/a/index.html", "d-a"), ("products/b/index.html", "d-b")]

    @Test("A manifest made ahead from the same outputs is written as it was made")
    func matchingManifestIsWritten() throws {
        let folder = try TemporaryFolder("encoded-manifest")
        defer { folder.remove() }
        let output = folder.file("public")
        let tree = try OutputTree(publishPath: output, precompress: false)
        tree.expectOutputs(Self.outputs.count)
        try Self.record(tree, Self.outputs)
        let encoded = BuildManifest.Encoded(outputs: Dictionary(uniqueKeysWithValues: Self.outputs), order: Self.outputs.map(\.0))
        try tree.publish(encoded: encoded)
        #expect(tree.wroteEncodedManifest)
        let written = try #require(FileManager.default.contents(atPath: "\(output)/\(BuildManifest.fileName)"))
        #expect([UInt8](written) == encoded.bytes)
        #expect(BuildManifest.load(folder: output)?.outputs == Dictionary(uniqueKeysWithValues: Self.outputs))
    }

    @Test("A manifest made ahead that differs in one digest, one output or the order is not written")
    func differingManifestIsNotWritten() throws {
        let recorded = Dictionary(uniqueKeysWithValues: Self.outputs)
        var otherDigest = recorded
        otherDigest["products/a/index.html"] = "d-a-before"
        var oneMore = recorded
        oneMore["products/c/index.html"] = "d-c"
        let stale: [BuildManifest.Encoded] = [
            BuildManifest.Encoded(outputs: otherDigest, order: Self.outputs.map(\.0)),
            BuildManifest.Encoded(outputs: oneMore, order: Self.outputs.map(\.0) + ["products/c/index.html"]),
            BuildManifest.Encoded(outputs: recorded, order: Self.outputs.map(\.0).reversed()),
        ]
        for (number, encoded) in stale.enumerated() {
            let folder = try TemporaryFolder("encoded-manifest-stale-\(number)")
            defer { folder.remove() }
            let output = folder.file("public")
            let tree = try OutputTree(publishPath: output, precompress: false)
            try Self.record(tree, Self.outputs)
            try tree.publish(encoded: encoded)
            #expect(!tree.wroteEncodedManifest, "case \(number)")
            let written = try #require(FileManager.default.contents(atPath: "\(output)/\(BuildManifest.fileName)"))
            #expect([UInt8](written) != encoded.bytes, "case \(number)")
            #expect([UInt8](written) == BuildManifest(outputs: recorded).encoded(order: Self.outputs.map(\.0)), "case \(number)")
            #expect(BuildManifest.load(folder: output)?.outputs == recorded, "case \(number)")
        }
    }
}
