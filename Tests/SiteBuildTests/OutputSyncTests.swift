import CSystemCalls
import Foundation
import ShopTestSupport
@testable import SiteBuild
import Testing

/// How a build gets its files onto disk before publishing: a few files are synced one by one
/// (each one's writeback started as it is written); thousands by a thread that syncs the file
/// system while they are written, and once more before the swap.
@Suite("Syncing the new site")
struct OutputSyncTests {
    @Test("A build of more files than are synced one by one syncs in the background, and publishes every file")
    func largeBuildsSyncInBackground() throws {
        let folder = try TemporaryFolder("output-sync")
        defer { folder.remove() }
        let output = folder.file("public")
        let count = OutputTree.filesSyncedOneByOne + 44

        let tree = try OutputTree(publishPath: output, precompress: false)
        #expect(!tree.syncsInBackground)
        #expect(tree.writer.startWriteback, "until told otherwise, each file's writeback starts as it is written")
        tree.expectWrites(count)
        #expect(tree.syncsInBackground)
        #expect(!tree.writer.startWriteback, "the background sync writes them instead")
        tree.expectWrites(count)  // asked again: still the one thread
        for number in 0..<count {
            let path = "products/p\(number)/index.html"
            try tree.prepare(path, digest: "d\(number)")
            let bytes = Array("page \(number)\n".utf8)
            let written = try bytes.withUnsafeBytes { try tree.writer.write(path, bytes: $0, compressed: nil) }
            tree.recordWritten(path, digest: "d\(number)", written)
        }
        try tree.publish()
        #expect(!tree.syncsInBackground, "stopped before the sync that precedes the swap")
        for number in [0, count / 2, count - 1] {
            #expect(try String(contentsOfFile: "\(output)/products/p\(number)/index.html", encoding: .utf8) == "page \(number)\n")
        }
        #expect(BuildManifest.load(folder: output)?.outputs.count == count)
    }

    @Test("A build of few files, or one that does not sync, starts no background sync")
    func smallBuildsSyncFileByFile() throws {
        let folder = try TemporaryFolder("output-sync-small")
        defer { folder.remove() }
        do {
            let tree = try OutputTree(publishPath: folder.file("public"), precompress: false)
            tree.expectWrites(12)
            #expect(!tree.syncsInBackground)
            #expect(tree.writer.startWriteback)
            tree.abandon()
        }
        do {
            let tree = try OutputTree(publishPath: folder.file("unsynced"), precompress: false, syncBeforePublish: false)
            tree.expectWrites(OutputTree.filesSyncedOneByOne * 10)
            #expect(!tree.syncsInBackground)
            #expect(!tree.writer.startWriteback)
            tree.abandon()
        }
    }

    @Test("A failed build stops the background sync")
    func abandonStopsTheSync() throws {
        let folder = try TemporaryFolder("output-sync-abandon")
        defer { folder.remove() }
        let tree = try OutputTree(publishPath: folder.file("public"), precompress: false)
        tree.expectWrites(OutputTree.filesSyncedOneByOne + 1)
        #expect(tree.syncsInBackground)
        tree.abandon()
        #expect(!tree.syncsInBackground)
        #expect(!fileExists(folder.file("public")), "nothing was published")
    }

    @Test("The background sync thread runs, stops promptly, and refuses a folder that is not there")
    func backgroundSyncShim() throws {
        let folder = try TemporaryFolder("background-sync")
        defer { folder.remove() }
        #expect(ishop_background_sync_start(folder.file("missing"), 10) == nil)
        #expect(errno == ENOENT)

        // An hour's interval: stopping wakes the thread rather than waiting the interval out
        // (if it did not, this test would hold the suite for an hour and CI's limit would fail it).
        let sync = try #require(ishop_background_sync_start(folder.path, 3_600_000))
        #expect(ishop_background_sync_stop(sync) == 0)

        // A short one: it syncs several times over, and reports no error.
        let busy = try #require(ishop_background_sync_start(folder.path, 1))
        try Data(repeating: 7, count: 1 << 20).write(to: URL(fileURLWithPath: folder.file("dirty")))
        usleep(20_000)
        #expect(ishop_background_sync_stop(busy) == 0)
    }
}

/// `ishop build` leaves its catalog, plan and tree for the process's exit to reclaim.
@Suite("Memory left for the exit")
struct LeftForExitTests {
    final class Marker {}

    @Test("What a command-line build keeps is not freed; a build without the setting keeps nothing")
    func keptUntilExit() async throws {
        weak var kept: Marker?
        weak var dropped: Marker?
        do {
            let marker = Marker()
            kept = marker
            LeftForExit.keep(marker, [marker])
            let other = Marker()
            dropped = other
        }
        #expect(kept != nil, "kept values outlive their scope")
        #expect(dropped == nil)

        // A real build with the setting on publishes as any other does.
        let shop = try await ExampleShop.make()
        defer { shop.remove() }
        var builder = SiteBuilder(config: shop.config, store: shop.store)
        builder.leavesMemoryToExit = true
        builder.buildDate = fixedBuildDate
        let first = try await builder.build(outputDirectory: shop.output)
        #expect(!first.rendered.isEmpty)
        #expect(shop.page("index.html") != nil)
        let again = try await builder.build(outputDirectory: shop.output)
        #expect(again.rendered.isEmpty, "nothing changed")
    }
}

/// A write-back error is reported to one sync only: after one, the spare must not vouch for its files.
@Suite("A failed sync")
struct FailedSyncTests {
    static func treeWithOneFile(_ output: String) throws -> OutputTree {
        let tree = try OutputTree(publishPath: output, precompress: false)
        try tree.prepare("index.html", digest: "home")
        let written = try Array("home\n".utf8).withUnsafeBytes { try tree.writer.write("index.html", bytes: $0, compressed: nil) }
        tree.recordWritten("index.html", digest: "home", written)
        return tree
    }

    @Test("A build abandoned after a sync failed leaves the spare without a manifest; otherwise the spare keeps one")
    func noManifestAfterAFailedSync() throws {
        let folder = try TemporaryFolder("failed-sync")
        defer { folder.remove() }
        let output = folder.file("public")
        let spare = OutputTree.sparePath(for: output)

        do {
            let tree = try Self.treeWithOneFile(output)
            tree.abandon()
            #expect(BuildManifest.load(folder: spare)?.outputs == ["index.html": "home"], "a plain failure: the spare still vouches for what it holds")
        }
        do {
            let tree = try Self.treeWithOneFile(output)
            tree.noteSyncFailure()
            tree.abandon()
            #expect(BuildManifest.load(folder: spare) == nil, "after a failed sync the next build trusts nothing in the spare")
        }
        // The next tree starts from an empty spare.
        let next = try OutputTree(publishPath: output, precompress: false)
        #expect(try !next.keep("index.html", digest: "home"))
        next.abandon()
    }
}
