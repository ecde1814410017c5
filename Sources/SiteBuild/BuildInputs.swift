import Foundation
import ShopCore

/// The first stage of a build: everything it reads. The catalog is read (on the store's own
/// threads) while the content and theme load here: neither needs the other, and each is about a
/// tenth of a rebuild. The live site's manifest too, before this build holds the output folder
/// (OutputTree takes the lock): its identity goes with it, taken first, and the plan stage reads
/// it again if another build published meanwhile.
struct BuildInputs {
    var products: [Product]
    /// content/*.md, drafts left out.
    var pages: [ContentPage]
    var theme: Theme
    var assets: FingerprintedAssets
    var live: LiveSite
}

/// The published site's manifest as this build found it, and the identity its file had just before.
struct LiveSite {
    var identity: BuildManifest.Identity?
    var manifest: BuildManifest?

    static func read(_ output: String) -> LiveSite {
        LiveSite(identity: BuildManifest.identity(folder: output), manifest: BuildManifest.load(folder: output))
    }

    /// The same, read again if another build published since it was read (the answer takes no lock).
    func current(_ output: String) -> LiveSite {
        let now = BuildManifest.identity(folder: output)
        return now == identity ? self : LiveSite(identity: now, manifest: BuildManifest.load(folder: output))
    }
}

extension SiteBuilder {
    func loadInputs(output: String, clock: inout StageClock) async throws -> BuildInputs {
        let store = self.store
        async let catalog = store.catalog(includeUnpublished: false)
        async let live = LiveSite.read(output)
        let pages = try await inStage(.content) {
            try ContentPage.loadAll(directory: config.resolve(config.contentDir), displayRoot: config.contentDir).filter { !$0.draft }
        }
        let theme = try await inStage(.theme) { try Theme.load(config: config) }
        let assets = try await inStage(.theme) { try FingerprintedAssets(staticFiles: theme.staticFiles) }
        clock.lap("content and theme")
        let products: [Product]
        do {
            products = try await catalog
        } catch {
            throw BuildError(.catalog, "cannot read the catalog: \(error)")
        }
        // A handle becomes a folder name: one that is not a plain handle could climb out of public/.
        // By index: `first(where:)` over the products copied each one to look at its handle.
        if let bad = products.indices.first(where: { !Handle.isValid(products[$0].handle) }) {
            throw BuildError(.plan, "product handle \"\(products[bad].handle.prefix(80))\" cannot be a page address (letters, digits, - and _ only)")
        }
        clock.lap("catalog")
        return BuildInputs(products: products, pages: pages, theme: theme, assets: assets, live: await live)
    }
}
