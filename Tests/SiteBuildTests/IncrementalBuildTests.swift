import Foundation
import ShopCore
import ShopStore
import SiteBuild
import Testing

/// A rebuild renders exactly the outputs whose inputs changed, keeps every other file as it is
/// (same inode: not rewritten), removes what left the plan, and publishes atomically.
@Suite("Incremental builds")
struct IncrementalBuildTests {
    /// Inode of every file of the site, by relative path.
    func inodes(_ output: String) -> [String: UInt64] {
        var result: [String: UInt64] = [:]
        for relative in regularFiles(under: output) {
            var status = stat()
            if stat("\(output)/\(relative)", &status) == 0 { result[relative] = UInt64(status.st_ino) }
        }
        return result
    }

    @Test("Nothing changed: nothing is rendered or written, the site is byte for byte the same")
    func noChange() async throws {
        let shop = try await ExampleShop.make()
        defer { shop.remove() }
        let first = try await shop.buildOnFixedDate()
        #expect(first.pagesReused == 0)
        // Every page, feed and static file, the marker, and .gitkeep when the folder had one.
        let gitKeep = fileExists("\(shop.output)/.gitkeep") ? 1 : 0
        #expect(first.rendered.count == first.pagesWritten + first.feedsWritten + first.staticFiles + first.imageFiles + 1 + gitKeep)
        let before = snapshot(shop.output)
        let files = inodes(shop.output)

        let second = try await shop.buildOnFixedDate()
        #expect(second.rendered.isEmpty)
        #expect(second.pagesReused == second.pagesWritten)
        #expect(second.feedsReused == second.feedsWritten)
        #expect(second.bytesWritten == 0)
        #expect(inodes(shop.output) == files, "unchanged files are not rewritten")
        #expect(snapshot(shop.output) == before)
    }

    @Test("One product's price changes: its page, the listings and feeds that show it, nothing else")
    func oneProductChanges() async throws {
        let shop = try await ExampleShop.make()
        defer { shop.remove() }
        _ = try await shop.buildOnFixedDate()
        let before = inodes(shop.output)

        var fig = try #require(try await shop.store.catalog(includeUnpublished: true).first { $0.handle == "fig-bowl-print" })
        fig.variants[0].priceCents = 2500
        _ = try await shop.store.upsert([fig])
        let report = try await shop.buildOnFixedDate()

        // Its type's collection and one per tag; the home page (it is among the newest), the feeds
        // that list it. Not the sitemap (same pages), not the collections index (same counts).
        let listings = ([fig.productType] + fig.tags).map { "collections/\(Handle.slug($0))/index.html" }
        let expected = Set(["products/fig-bowl-print/index.html", "index.html", "feed.xml", "merchant-feed.xml", "search-index.json"] + listings)
        #expect(Set(report.rendered) == expected)
        #expect(report.pagesReused == report.pagesWritten - 2 - Set(listings).count)

        // The Atom feed lists the product but not its price: rendered again, it came out the same,
        // and the live file (and its .gz) stays, inode and mtime, so its ETag does not change.
        let sameBytes: Set<String> = ["feed.xml"]
        let after = inodes(shop.output)
        for (relative, inode) in before where !relative.hasPrefix(".ishop-manifest") {
            let base = relative.hasSuffix(".gz") ? String(relative.dropLast(3)) : relative
            if expected.contains(base) && !sameBytes.contains(base) {
                #expect(after[relative] != inode, "\(relative) changed and is new")
            } else {
                #expect(after[relative] == inode, "\(relative) did not change but was rewritten")
            }
        }
        #expect(shop.page("products/fig-bowl-print/index.html")?.contains("€25.00") == true)
        #expect(shop.page("collections/art-print/index.html")?.contains("from €25.00") == true)
        #expect(shop.page("merchant-feed.xml")?.contains("25.00 EUR") == true)

        // The next build, with nothing changed, has nothing to do: the spare caught up as well.
        let settled = try await shop.buildOnFixedDate()
        #expect(settled.rendered.isEmpty)
        #expect(inodes(shop.output) == after)

        // And a further change after that still lands, on whichever tree is the spare now.
        fig.variants[0].priceCents = 2600
        _ = try await shop.store.upsert([fig])
        let third = try await shop.buildOnFixedDate()
        #expect(Set(third.rendered) == expected)
        #expect(shop.page("products/fig-bowl-print/index.html")?.contains("€26.00") == true)
        #expect(shop.page("products/fig-bowl-print/index.html")?.contains("€25.00") == false)
    }

    /// With precompression the pieces pass through memory (the .gz is made as the feed is
    /// written); without, they are copied inside the kernel: both ways are checked.
    @Test("The feeds that list every product take the unchanged products' pieces from the live copies, and come out as a build from scratch makes them",
          arguments: [true, false])
    func feedPiecesReused(precompress: Bool) async throws {
        let shop = try await ExampleShop.make()
        defer { shop.remove() }
        func build(into folder: String? = nil) async throws -> SiteBuilder.Report {
            try await shop.buildOnFixedDate(into: folder, precompress: precompress)
        }
        _ = try await build()
        let feeds = ["merchant-feed.xml", "search-index.json"]
        let indexes = try FileManager.default.contentsOfDirectory(atPath: shop.config.resolve(SiteBuilder.feedIndexFolder))
        for feed in feeds { #expect(indexes.contains { $0.hasPrefix(feed + ".") && $0.hasSuffix(".index") }, "\(feed) has an index") }

        var catalog = try await shop.store.catalog(includeUnpublished: false)
        var fig = try #require(catalog.first { $0.handle == "fig-bowl-print" })
        let other = try #require(catalog.first { product in
            product.handle != fig.handle && product.vendor.count >= 4 && !product.vendor.contains { "<>&\"'".contains($0) }
        })
        func changePrice(to cents: Int) async throws {
            fig.variants[0].priceCents = cents
            _ = try await shop.store.upsert([fig])
            catalog = try await shop.store.catalog(includeUnpublished: false)
        }

        // A rebuild makes the same bytes as a build from scratch into a folder of its own.
        try await changePrice(to: 2500)
        let report = try await build()
        #expect(Set(feeds).isSubset(of: Set(report.rendered)))
        let fresh = "\(shop.site)/fresh"
        _ = try await build(into: fresh)
        // Their .gz files too: the Merchant Center feed's, made of segments taken from the live
        // one where unchanged (SegmentedGzip), is byte for byte the one made from scratch.
        func sameAsFromScratch() {
            for feed in feeds {
                #expect(readText("\(shop.output)/\(feed)") == readText("\(fresh)/\(feed)"), "\(feed) as from scratch")
                #expect(FileManager.default.contents(atPath: "\(shop.output)/\(feed).gz")
                    == FileManager.default.contents(atPath: "\(fresh)/\(feed).gz"), "\(feed).gz as from scratch")
            }
        }
        sameAsFromScratch()
        #expect(shop.page("merchant-feed.xml")?.contains("25.00 EUR") == true)
        #expect(fileExists("\(shop.output)/merchant-feed.xml.gz") == precompress)
        func gzipHoldsFeed() {
            guard precompress else { return }
            #expect(gunzipped("\(shop.output)/merchant-feed.xml.gz") == FileManager.default.contents(atPath: "\(shop.output)/merchant-feed.xml"),
                    "the .gz holds exactly the feed")
        }
        gzipHoldsFeed()

        // Proof that pieces are taken, not made: a product that did not change keeps what the live
        // file says of it (same length), while the product that changed is made anew.
        let vendor = other.vendor
        let marked = String(repeating: "Z", count: vendor.utf8.count)
        // Written into the live file itself: the index names the file by device and inode, and a
        // new file at that path (another build's) would not be taken for the one it describes.
        func tamper(_ feed: String, _ original: String, _ replacement: String) throws {
            let path = "\(shop.output)/\(feed)"
            let text = try #require(readText(path))
            #expect(text.contains(original))
            let bytes = Data(text.replacingOccurrences(of: original, with: replacement).utf8)
            let handle = try #require(FileHandle(forWritingAtPath: path))
            try handle.write(contentsOf: bytes)
            try handle.truncate(atOffset: UInt64(bytes.count))
            try handle.close()
        }
        try tamper("merchant-feed.xml", "<g:brand>\(vendor)</g:brand>", "<g:brand>\(marked)</g:brand>")
        try await changePrice(to: 2600)
        _ = try await build()
        #expect(shop.page("merchant-feed.xml")?.contains("<g:brand>\(marked)</g:brand>") == true, "unchanged items come from the live file")
        // The live .gz still says the vendor's name: its segment no longer fits the new file, and is made again.
        gzipHoldsFeed()
        #expect(shop.page("merchant-feed.xml")?.contains("26.00 EUR") == true)
        #expect(shop.page("merchant-feed.xml")?.contains("25.00 EUR") == false)

        // A live file that is not what its index says (another length) is not used: all is made again.
        try tamper("merchant-feed.xml", "<g:brand>\(marked)</g:brand>", "<g:brand>\(marked)!</g:brand>")
        try await changePrice(to: 2700)
        _ = try await build()
        #expect(shop.page("merchant-feed.xml")?.contains(marked) == false)
        #expect(shop.page("merchant-feed.xml")?.contains("27.00 EUR") == true)
        _ = try await build(into: fresh)
        sameAsFromScratch()
        gzipHoldsFeed()

        // The old feed in the spare is never written into, not even when it is the spare's own
        // file (a download that began while it was live may still be reading it): after a build
        // that changed a template only (the feeds are linked from the live tree into the spare)
        // and then changes of price, the site that was live is exactly as it was each time.
        let template = try #require(readText("\(shop.site)/themes/default/layouts/product.mustache"))
        try shop.write("layouts/product.mustache", template + "\n")
        _ = try await build()
        var linked = stat()
        #expect(stat("\(shop.output)/merchant-feed.xml", &linked) == 0 && linked.st_nlink == 2, "the feed is shared with the spare")
        let wasLive = try #require(readText("\(shop.output)/merchant-feed.xml"))
        try await changePrice(to: 2750)
        _ = try await build()
        #expect(readText("\(shop.site)/.public.spare/merchant-feed.xml") == wasLive, "the previous site was not written into")
        try await changePrice(to: 2760)
        let wasLiveToo = try #require(readText("\(shop.output)/merchant-feed.xml"))
        var before = stat()
        #expect(stat("\(shop.site)/.public.spare/merchant-feed.xml", &before) == 0 && before.st_nlink == 1, "the spare's own file")
        let wasSpare = try #require(FileHandle(forReadingAtPath: "\(shop.site)/.public.spare/merchant-feed.xml"))
        defer { try? wasSpare.close() }
        let spareBytes = try wasSpare.readToEnd()
        _ = try await build()
        try wasSpare.seek(toOffset: 0)
        #expect(try wasSpare.readToEnd() == spareBytes, "a reader of the old feed reads it to its end unchanged")
        #expect(readText("\(shop.site)/.public.spare/merchant-feed.xml") == wasLiveToo)
        #expect(shop.page("merchant-feed.xml")?.contains("27.60 EUR") == true)
        gzipHoldsFeed()
        #expect(!(try FileManager.default.contentsOfDirectory(atPath: shop.output)).contains { $0.hasPrefix(".ishop-discard-") })

        // A damaged index is not used either.
        let folder = shop.config.resolve(SiteBuilder.feedIndexFolder)
        for name in try FileManager.default.contentsOfDirectory(atPath: folder) {
            try Data("ishop-feed-fragments 1\nnonsense\n".utf8).write(to: URL(fileURLWithPath: "\(folder)/\(name)"))
        }
        try await changePrice(to: 2800)
        _ = try await build()
        _ = try await build(into: fresh)
        sameAsFromScratch()
        gzipHoldsFeed()
    }

    @Test("After a --no-sync build, the next syncing build writes the whole file system to disk, however little it renders")
    func syncAfterAnUnsyncedBuild() async throws {
        let shop = try await ExampleShop.make()
        defer { shop.remove() }
        let marker = (shop.output as NSString).deletingLastPathComponent + "/.\((shop.output as NSString).lastPathComponent).unsynced"
        _ = try await shop.buildOnFixedDate()
        #expect(!FileManager.default.fileExists(atPath: marker))

        // A throwaway build: its files may never have reached the disk, and the next builds keep
        // and link them rather than write them again.
        var fig = try #require(try await shop.store.catalog(includeUnpublished: true).first { $0.handle == "fig-bowl-print" })
        fig.variants[0].priceCents += 100
        _ = try await shop.store.upsert([fig])
        _ = try await shop.buildOnFixedDate(sync: false)
        #expect(FileManager.default.fileExists(atPath: marker))
        fig.variants[0].priceCents += 100
        _ = try await shop.store.upsert([fig])
        _ = try await shop.buildOnFixedDate(sync: false)
        #expect(FileManager.default.fileExists(atPath: marker), "a no-sync build never takes the marker away")

        // One product changed: few enough files to sync one by one, but the file system is synced
        // whole (the marker goes only then).
        fig.variants[0].priceCents += 100
        _ = try await shop.store.upsert([fig])
        let report = try await shop.buildOnFixedDate()
        #expect(report.pagesWritten < 100, "well under the 256 files synced one by one")
        #expect(!FileManager.default.fileExists(atPath: marker))
    }

    @Test("A syncing build that finds nothing changed after a --no-sync build still syncs and takes the marker away")
    func noOpSyncAfterAnUnsyncedBuild() async throws {
        let shop = try await ExampleShop.make()
        defer { shop.remove() }
        let marker = (shop.output as NSString).deletingLastPathComponent + "/.\((shop.output as NSString).lastPathComponent).unsynced"
        _ = try await shop.buildOnFixedDate(sync: false)
        #expect(FileManager.default.fileExists(atPath: marker))
        let again = try await shop.buildOnFixedDate(sync: false)
        #expect(again.rendered.isEmpty)
        #expect(FileManager.default.fileExists(atPath: marker), "a no-op build without sync keeps the marker")
        let synced = try await shop.buildOnFixedDate()
        #expect(synced.rendered.isEmpty, "nothing changed, nothing rendered")
        #expect(!FileManager.default.fileExists(atPath: marker), "the no-op build synced the site written without sync")
    }

    @Test("An unpublished product's page is gone; a template change renders every page again, not the feeds")
    func removalsAndTemplates() async throws {
        let shop = try await ExampleShop.make()
        defer { shop.remove() }
        _ = try await shop.buildOnFixedDate()
        _ = try await shop.buildOnFixedDate()

        var fig = try #require(try await shop.store.catalog(includeUnpublished: true).first { $0.handle == "fig-bowl-print" })
        fig.published = false
        _ = try await shop.store.upsert([fig])
        let removal = try await shop.buildOnFixedDate()
        #expect(removal.outputsRemoved >= 1)
        #expect(!fileExists("\(shop.output)/products/fig-bowl-print/index.html"))
        #expect(!fileExists("\(shop.output)/products/fig-bowl-print/index.html.gz"))
        #expect(!fileExists("\(shop.output)/products/fig-bowl-print"), "its folder goes too")
        #expect(shop.page("collections/art-print/index.html")?.contains("fig-bowl-print") == false)
        #expect(shop.page("sitemap.xml")?.contains("fig-bowl-print") == false)

        let theme = try #require(readText("\(shop.site)/themes/default/layouts/product.mustache"))
        #expect(theme.contains("Choose your print"))
        try shop.write("layouts/product.mustache", theme.replacingOccurrences(of: "Choose your print", with: "Pick a size"))
        let report = try await shop.buildOnFixedDate()
        #expect(report.pagesReused == 0)
        #expect(report.feedsReused == report.feedsWritten, "feeds use no template")
        #expect(shop.page("products/bird-lamp-print/index.html")?.contains("Pick a size") == true)
    }

    @Test("A build killed half-way (its spare has no manifest) costs the next one a full render, nothing more")
    func killedBuild() async throws {
        let shop = try await ExampleShop.make()
        defer { shop.remove() }
        _ = try await shop.buildOnFixedDate()
        var fig = try #require(try await shop.store.catalog(includeUnpublished: true).first { $0.handle == "fig-bowl-print" })
        fig.variants[0].priceCents = 2500
        _ = try await shop.store.upsert([fig])
        _ = try await shop.buildOnFixedDate()
        let spare = "\(shop.site)/.public.spare"
        #expect(fileExists("\(spare)/.ishop-manifest"), "the previous site is kept as the spare")

        // What a kill leaves: a spare without its manifest, with a file in it that no plan has.
        try FileManager.default.removeItem(atPath: "\(spare)/.ishop-manifest")
        try Data("half".utf8).write(to: URL(fileURLWithPath: "\(spare)/products/stray.html"))
        fig.title = "Fig Bowl Print, Reissued"
        _ = try await shop.store.upsert([fig])
        let report = try await shop.buildOnFixedDate()
        #expect(report.rendered.contains("products/fig-bowl-print/index.html"))
        #expect(!fileExists("\(shop.output)/products/stray.html"))
        #expect(shop.page("products/fig-bowl-print/index.html")?.contains("Reissued") == true)

        // The published site equals a build from nothing.
        let fresh = "\(shop.folder.path)/fresh"
        var builder = SiteBuilder(config: shop.config, store: shop.store)
        builder.buildDate = fixedBuildDate
        _ = try await builder.build(outputDirectory: fresh)
        #expect(snapshot(shop.output, skipping: [".ishop-manifest", ".gitkeep"]) == snapshot(fresh, skipping: [".ishop-manifest", ".gitkeep"]))
    }

    @Test("A failed build leaves the live site alone and the next build still starts from the spare")
    func failedBuildKeepsSpareUsable() async throws {
        let shop = try await ExampleShop.make()
        defer { shop.remove() }
        _ = try await shop.buildOnFixedDate()
        _ = try await shop.buildOnFixedDate()
        var fig = try #require(try await shop.store.catalog(includeUnpublished: true).first { $0.handle == "fig-bowl-print" })
        fig.variants[0].priceCents = 2700
        _ = try await shop.store.upsert([fig])
        let before = snapshot(shop.output)

        // Fails after the product pages are in the spare: a static folder where a page must go.
        try shop.write("static/index.html/blocker.txt", "in the way")
        await #expect(throws: BuildError.self) { try await shop.buildOnFixedDate() }
        #expect(snapshot(shop.output) == before)

        try FileManager.default.removeItem(atPath: "\(shop.site)/static/index.html")
        let report = try await shop.buildOnFixedDate()
        // The failed build had rendered the changed pages into the spare already: kept, not rendered.
        #expect(!report.rendered.contains("products/fig-bowl-print/index.html"))
        #expect(shop.page("products/fig-bowl-print/index.html")?.contains("€27.00") == true)
        let fresh = "\(shop.folder.path)/fresh"
        var builder = SiteBuilder(config: shop.config, store: shop.store)
        builder.buildDate = fixedBuildDate
        _ = try await builder.build(outputDirectory: fresh)
        #expect(snapshot(shop.output, skipping: [".ishop-manifest", ".gitkeep"]) == snapshot(fresh, skipping: [".ishop-manifest", ".gitkeep"]))
    }

    @Test("Two builds of one folder at once: the second is refused with a clear error")
    func concurrentBuildRefused() async throws {
        let shop = try await ExampleShop.make()
        defer { shop.remove() }
        _ = try await shop.buildOnFixedDate()
        var fig = try #require(try await shop.store.catalog(includeUnpublished: true).first { $0.handle == "fig-bowl-print" })
        fig.variants[0].priceCents = 2800
        _ = try await shop.store.upsert([fig])

        let lock = open("\(shop.site)/.public.lock", O_RDWR | O_CREAT, 0o644)
        #expect(lock >= 0)
        defer { close(lock) }
        #expect(flock(lock, LOCK_EX | LOCK_NB) == 0)
        let error = try await #require(throws: BuildError.self) { try await shop.buildOnFixedDate() }
        #expect(error.message.contains("another `ishop build`"))
        flock(lock, LOCK_UN)
        _ = try await shop.buildOnFixedDate()
        #expect(shop.page("products/fig-bowl-print/index.html")?.contains("€28.00") == true)
    }
}
