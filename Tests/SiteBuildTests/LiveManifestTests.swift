import Foundation
import ShopCore
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
