import CSystemCalls
import Foundation

/// The published site and its spare: two trees beside each other, swapped in one atomic step.
///
/// `public/` is what Nginx serves. `.public.spare/` holds the generation before it, with the
/// manifest of exactly what is in it. A build brings the spare up to date (an output whose digest
/// the spare already has is left alone; one the live tree has is hard-linked from it; the rest is
/// rendered), removes what the plan no longer has, and exchanges the two folders with
/// renameat2(RENAME_EXCHANGE): readers see the old tree or the new one, never a mix, and the old
/// one becomes the next build's spare. In a steady state a build touches only the outputs that
/// changed in it and in the build before: no tree is copied or deleted (on a slow disk, deleting
/// a catalog site of 12,000 folders took longer than rendering it).
///
/// A build that fails leaves the live tree untouched and writes the spare's true contents into its
/// manifest; one killed outright leaves a spare without a manifest, which the next build discards.
///
/// Files are written with plain system calls: Foundation's FileManager and Data.write cost about
/// seven times as much per file, and a catalog site has tens of thousands of files. A file is
/// never rewritten in place (it may be a hard link shared with the live tree): it is unlinked,
/// then created anew.
final class OutputTree {
    let publishPath: String
    /// syncfs before the swap (SiteBuilder.syncBeforePublish).
    let syncBeforePublish: Bool
    /// The spare tree being brought up to date: the next published site.
    let stagingPath: String
    let precompress: Bool
    private(set) var bytesWritten = 0
    /// `.gz` files written beside text files.
    private(set) var compressedFilesWritten = 0
    /// Outputs already right in the spare (not touched) or hard-linked from the live tree.
    private(set) var filesKept = 0
    /// Outputs of the published site that the new one no longer has.
    private(set) var filesRemoved = 0
    /// Whether publishing wrote the manifest made beforehand (`publish(encoded:)`) as it was.
    private(set) var wroteEncodedManifest = false

    /// Output path -> digest of what the live site holds there.
    let live: [String: String]
    /// Output path -> digest of what the spare holds there right now (kept true as it changes).
    private var contents: [String: String]
    /// Output path -> digest, for every output of this build.
    private(set) var planned: [String: String] = [:]
    /// The paths of `planned` in the order the build gave them (the plan's): the manifest's order,
    /// the same for the same site on every build, without sorting 12,000 paths.
    private var plannedOrder: [String] = []
    /// Outputs handed to a worker (prepared) and not yet recorded: if the build fails, whatever
    /// the workers got onto disk for them is removed, so the spare holds nothing its manifest hides.
    private var pending: Set<String> = []
    private var createdDirectories: Set<String> = []
    private let lockDescriptor: Int32
    /// Relative paths of the files this build wrote or linked in (with their .gz), while they are
    /// few: publishing then syncs just those (and their folders) rather than the whole file
    /// system, whose other dirty data (a database, logs, another tree) is no business of a
    /// one-product rebuild. nil once there are too many: a full build syncs the file system.
    private var filesToSync: [String]? = []
    /// Relative folders ("" for the root) whose entries changed other than by a file written:
    /// links from the live tree, removals. Synced with the files when those are few.
    private var changedFolders: Set<String> = []
    /// Old files moved aside in the spare, deleted by a worker and before the spare is published.
    private var movedAside: [String] = []
    private let unsyncedMarker: String
    static let filesSyncedOneByOne = 256
    /// Whether each file's writeback starts as it is written (a build that writes few files and
    /// syncs just those), or a thread syncs the file system now and then (`expectWrites`).
    private var startsWritebackPerFile: Bool
    private var backgroundSync: OpaquePointer?
    /// How often the background sync runs while a large build writes: often enough that little
    /// is left for the sync before publishing, seldom enough that each call writes a lot at once
    /// (measured on a 10,000-product build: 150 and 300 ms about the same, 1 s leaves too much).
    static let backgroundSyncInterval: Int32 = 300

    static func sparePath(for publishPath: String) -> String {
        let url = URL(fileURLWithPath: publishPath)
        return url.deletingLastPathComponent().appendingPathComponent(".\(url.lastPathComponent).spare").path
    }

    /// Present while either tree may hold data not yet on disk: made by a build with
    /// `--no-sync` before it writes anything, removed by the next build that syncs the whole file
    /// system. A syncing build that finds it syncs the whole file system rather than just what it
    /// wrote: the files it keeps or links may be a no-sync build's, never written back.
    static func unsyncedMarkerPath(for publishPath: String) -> String {
        let url = URL(fileURLWithPath: publishPath)
        return url.deletingLastPathComponent().appendingPathComponent(".\(url.lastPathComponent).unsynced").path
    }

    /// For a syncing build that found nothing to render: when a `--no-sync` build left the live
    /// site (or the spare) possibly not on disk, the file system is synced now and the marker
    /// removed, under the folder's lock, as a build that wrote something would have done. The
    /// lock is taken without waiting: a build holding it will sync (or mark) the folder itself.
    static func syncIfUnsynced(publishPath: String) throws {
        let marker = unsyncedMarkerPath(for: publishPath)
        guard access(marker, F_OK) == 0 else { return }
        let lock = lockPath(for: publishPath)
        let descriptor = open(lock, O_RDWR | O_CREAT | O_CLOEXEC, 0o644)
        guard descriptor >= 0 else { throw BuildError(.write, file: lock, "cannot be created: \(String(cString: strerror(errno)))") }
        defer { close(descriptor) }
        guard flock(descriptor, LOCK_EX | LOCK_NB) == 0 else { return }
        defer { flock(descriptor, LOCK_UN) }
        guard ishop_sync_filesystem(publishPath) == 0 else {
            throw BuildError(.publish, file: publishPath, "cannot write the site to disk: \(String(cString: strerror(errno)))")
        }
        unlink(marker)
    }

    static func lockPath(for publishPath: String) -> String {
        let url = URL(fileURLWithPath: publishPath)
        return url.deletingLastPathComponent().appendingPathComponent(".\(url.lastPathComponent).lock").path
    }

    /// Written into every site ishop publishes: only a folder that has it (or is empty) may be replaced.
    static let markerName = ".ishop-site"
    static let markerText = "This folder is written by `ishop build` and replaced whole on every build.\n"

    /// `live`: the published site's manifest, when the caller has read it already, with the
    /// identity its file had just before (`BuildManifest.identity`). It was read before this
    /// build held the output folder's lock, so it is used only if the file is still the same:
    /// another build may have published in between, and trusting its predecessor's manifest
    /// would link files under digests they do not have. Otherwise (or nil) it is read again.
    init(publishPath: String, precompress: Bool = true, live liveManifest: BuildManifest? = nil,
         liveIdentity: BuildManifest.Identity? = nil, syncBeforePublish: Bool = true) throws {
        self.publishPath = publishPath
        self.syncBeforePublish = syncBeforePublish
        startsWritebackPerFile = syncBeforePublish
        self.precompress = precompress
        stagingPath = Self.sparePath(for: publishPath)
        try Self.checkReplaceable(publishPath)
        let parent = URL(fileURLWithPath: publishPath).deletingLastPathComponent().path
        try Self.makeDirectories(parent)

        // One build per output folder at a time: two would both bring the one spare up to date.
        let lock = Self.lockPath(for: publishPath)
        lockDescriptor = open(lock, O_RDWR | O_CREAT | O_CLOEXEC, 0o644)
        guard lockDescriptor >= 0 else {
            throw BuildError(.write, file: lock, "cannot be created: \(String(cString: strerror(errno)))")
        }
        guard flock(lockDescriptor, LOCK_EX | LOCK_NB) == 0 else {
            close(lockDescriptor)
            throw BuildError(.write, file: publishPath, "another `ishop build` is writing this folder right now")
        }

        unsyncedMarker = Self.unsyncedMarkerPath(for: publishPath)
        if !syncBeforePublish {
            let marker = open(unsyncedMarker, O_WRONLY | O_CREAT | O_CLOEXEC, 0o644)
            guard marker >= 0 else {
                flock(lockDescriptor, LOCK_UN)
                close(lockDescriptor)
                throw BuildError(.write, file: unsyncedMarker, "cannot be created: \(String(cString: strerror(errno)))")
            }
            close(marker)
        }

        Self.removeLegacyStaging(for: publishPath)
        let identityNow = BuildManifest.identity(folder: publishPath)
        if let liveManifest, let liveIdentity, identityNow == liveIdentity {
            live = liveManifest.outputs
        } else {
            live = BuildManifest.load(folder: publishPath)?.outputs ?? [:]
        }
        if let spare = BuildManifest.load(folder: stagingPath) {
            contents = spare.outputs
            // From here until the build ends the spare's manifest would lie: take it away, so a
            // build killed half-way leaves a spare that the next one knows not to trust.
            unlink("\(stagingPath)/\(BuildManifest.fileName)")
        } else {
            // No spare, or one whose contents are unknown (a build was killed while writing it).
            Self.removeTree(stagingPath)
            contents = [:]
            guard mkdir(stagingPath, 0o755) == 0 else {
                flock(lockDescriptor, LOCK_UN)
                close(lockDescriptor)
                throw BuildError(.write, file: stagingPath, "cannot create the staging folder: \(String(cString: strerror(errno)))")
            }
        }
        createdDirectories.insert(stagingPath)
    }

    deinit {
        _ = stopBackgroundSync()
        flock(lockDescriptor, LOCK_UN)
        close(lockDescriptor)
    }

    /// A build replaces its output folder whole, so it must never be a folder of anything else
    /// (the database's, the catalog's, a home directory): refuse one that holds files but no marker.
    static func checkReplaceable(_ path: String) throws {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) else { return }
        guard isDirectory.boolValue else {
            throw BuildError(.config, file: path, "exists and is not a folder; refusing to replace it")
        }
        let entries = (try? FileManager.default.contentsOfDirectory(atPath: path)) ?? []
        let foreign = entries.filter { $0 != ".gitkeep" && $0 != markerName }
        if !foreign.isEmpty && !entries.contains(markerName) {
            throw BuildError(.config, file: path, """
                holds files that ishop did not write (\(foreign.sorted().prefix(3).joined(separator: ", "))); \
                the output folder is replaced on every build, so choose an empty or new folder
                """)
        }
    }

    // MARK: Outputs

    private func needsSync(_ relativePath: String, compressed: Bool = false) {
        guard filesToSync != nil else { return }
        filesToSync?.append(relativePath)
        if compressed { filesToSync?.append(relativePath + ".gz") }
        if filesToSync!.count > Self.filesSyncedOneByOne { filesToSync = nil }
    }

    private func plan(_ relativePath: String, _ digest: String) {
        if planned.updateValue(digest, forKey: relativePath) == nil { plannedOrder.append(relativePath) }
    }

    /// True when the output at `relativePath` with inputs `digest` needs no rendering: the spare
    /// holds it already, or it is hard-linked from the live site now. Records it in the plan.
    func keep(_ relativePath: String, digest: String) throws -> Bool {
        plan(relativePath, digest)
        if contents[relativePath] == digest {
            filesKept += 1
            return true
        }
        guard live[relativePath] == digest else { return false }
        try removeFromSpare(relativePath)
        let old = "\(publishPath)/\(relativePath)"
        let new = "\(stagingPath)/\(relativePath)"
        if let slash = relativePath.lastIndex(of: "/") {
            try ensureDirectory("\(stagingPath)/\(relativePath[..<slash])")
        }
        guard Glibc.link(old, new) == 0 else { return false }
        changedFolders.insert(Self.folder(of: relativePath))
        if access(old + ".gz", F_OK) == 0, Glibc.link(old + ".gz", new + ".gz") != 0 {
            // A page without its .gz would make Nginx serve a stale one: render it instead.
            unlink(new)
            return false
        }
        contents[relativePath] = digest
        filesKept += 1
        return true
    }

    /// Writes `contents` at `relativePath` ("products/x/index.html") with inputs `digest`.
    func write(_ relativePath: String, digest: String, _ text: String) throws {
        var text = text
        try text.withUTF8 { try write(relativePath, digest: digest, bytes: UnsafeRawBufferPointer($0)) }
    }

    func write(_ relativePath: String, digest: String, bytes: UnsafeRawBufferPointer) throws {
        let compressed = precompress ? Self.compressedCopy(of: bytes, path: relativePath) : nil
        try write(relativePath, digest: digest, bytes: bytes, compressed: compressed)
    }

    /// Writes a file whose gzip copy was made already (by a rendering worker, off this thread).
    func write(_ relativePath: String, digest: String, bytes: UnsafeRawBufferPointer, compressed: [UInt8]?) throws {
        plan(relativePath, digest)
        try removeFromSpare(relativePath)
        let file = try writer.write(relativePath, bytes: bytes, compressed: compressed)
        recordWritten(relativePath, digest: digest, file)
    }

    /// Copies a file into the tree (a static file of the theme or site).
    func copy(from source: String, to relativePath: String, digest: String) throws {
        guard let data = FileManager.default.contents(atPath: source) else {
            throw BuildError(.write, file: source, "cannot be read")
        }
        try data.withUnsafeBytes { try write(relativePath, digest: digest, bytes: $0) }
    }

    /// Puts a file made elsewhere (an image in the image cache) into the tree: a hard link, or a
    /// copy where the cache is on another file system.
    func link(from source: String, to relativePath: String, digest: String) throws {
        plan(relativePath, digest)
        try removeFromSpare(relativePath)
        if let slash = relativePath.lastIndex(of: "/") {
            try ensureDirectory("\(stagingPath)/\(relativePath[..<slash])")
        }
        let target = "\(stagingPath)/\(relativePath)"
        unlink(target)
        if Glibc.link(source, target) != 0 {
            guard let data = FileManager.default.contents(atPath: source) else {
                throw BuildError(.write, file: source, "cannot be read")
            }
            try data.withUnsafeBytes { try Self.writeFile(at: target, bytes: $0) }
        }
        var status = stat()
        if stat(target, &status) == 0 { bytesWritten += Int(status.st_size) }
        needsSync(relativePath)  // a file of the image cache may be as new as this build
        contents[relativePath] = digest
    }

    /// The .gz to write beside a text file for Nginx's gzip_static, when it is smaller.
    static func compressedCopy(of bytes: UnsafeRawBufferPointer, path: String) -> [UInt8]? {
        guard bytes.count >= Gzip.minimumSize, Gzip.isText(path), let compressed = Gzip.compress(bytes),
              compressed.count < bytes.count
        else { return nil }
        return compressed
    }

    /// Takes an output (and its .gz) out of the spare, so that what stands there next is new.
    /// It leaves `contents` only once both are gone: a file that cannot be removed stays listed.
    private func removeFromSpare(_ relativePath: String) throws {
        guard contents[relativePath] != nil else { return }
        let path = "\(stagingPath)/\(relativePath)"
        for file in [path + ".gz", path] where unlink(file) != 0 && errno != ENOENT {
            throw BuildError(.write, file: file, "cannot be replaced: \(String(cString: strerror(errno)))")
        }
        changedFolders.insert(Self.folder(of: relativePath))
        contents.removeValue(forKey: relativePath)
    }

    /// Hard-links the live site's file `live` (and its .gz when `compressed`) to `target` when it
    /// holds exactly `bytes`: an output rendered again that came out the same (the Atom feed
    /// after a price change, which it does not show) keeps its inode and mtime, so Nginx's ETag
    /// and Last-Modified stay and no feed reader downloads it again. The cost is reading back a
    /// file of the same size, which few changed outputs have. False: nothing was linked.
    static func linkUnchanged(live: String, to target: String, bytes: UnsafeRawBufferPointer, compressed: Bool) -> Bool {
        guard hasBytes(live, bytes) else { return false }
        if compressed && access(live + ".gz", F_OK) != 0 { return false }
        unlink(target)
        guard Glibc.link(live, target) == 0 else { return false }
        if compressed {
            unlink(target + ".gz")
            guard Glibc.link(live + ".gz", target + ".gz") == 0 else {
                unlink(target)
                return false
            }
        }
        return true
    }

    /// Whether the regular file at `path` holds exactly `bytes`.
    static func hasBytes(_ path: String, _ bytes: UnsafeRawBufferPointer) -> Bool {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return false }
        defer { close(fd) }
        var status = stat()
        guard fstat(fd, &status) == 0, status.st_mode & S_IFMT == S_IFREG, Int(status.st_size) == bytes.count else { return false }
        guard bytes.count > 0 else { return true }
        var buffer = [UInt8](repeating: 0, count: min(bytes.count, 1 << 16))
        var offset = 0
        while offset < bytes.count {
            let count = buffer.withUnsafeMutableBytes { read(fd, $0.baseAddress, min($0.count, bytes.count - offset)) }
            if count < 0 && errno == EINTR { continue }
            guard count > 0 else { return false }
            let same = buffer.withUnsafeBytes { memcmp($0.baseAddress!, bytes.baseAddress! + offset, count) == 0 }
            guard same else { return false }
            offset += count
        }
        return true
    }

    /// Creates `path` with `bytes`; a file already there is replaced by a new one, never rewritten.
    static func writeFile(at path: String, bytes: UnsafeRawBufferPointer, startWriteback: Bool = false) throws {
        var fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o644)
        if fd < 0 && errno == EEXIST {
            // Left by a write that failed half-way: it belongs to no one.
            unlink(path)
            fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o644)
        }
        guard fd >= 0 else { throw BuildError(.write, file: path, "cannot be created: \(String(cString: strerror(errno)))") }
        var offset = 0
        while offset < bytes.count {
            let written = Glibc.write(fd, bytes.baseAddress! + offset, bytes.count - offset)
            if written < 0 {
                if errno == EINTR { continue }
                let reason = String(cString: strerror(errno))
                close(fd)
                unlink(path)
                throw BuildError(.write, file: path, "cannot be written: \(reason)")
            }
            offset += written
        }
        if startWriteback { ishop_start_writeback(fd) }
        // Some file systems (NFS, quotas) report a full disk only here: a file that did not
        // close cleanly is not recorded as written.
        if close(fd) != 0 {
            let reason = String(cString: strerror(errno))
            unlink(path)
            throw BuildError(.write, file: path, "cannot be written: \(reason)")
        }
    }

    // MARK: Writing from rendering workers

    /// The part of the tree a rendering worker may use: it writes the files of the outputs it
    /// was given (after `prepare`), nothing else, so the workers share no state. Writing on the
    /// workers rather than on one thread matters: creating a folder and a file costs the kernel
    /// about as much as rendering the page.
    struct Writer: Sendable {
        let stagingPath: String
        /// The live site: a page that came out as it is there is linked from it (`linkUnchanged`).
        let publishPath: String
        /// When the tree is synced before publishing: each page's writeback starts as it is written.
        let startWriteback: Bool

        /// Writes a page and its .gz, or links both from the live site when it holds the same
        /// bytes (then nothing is written: 0 bytes, no .gz).
        func write(_ relativePath: String, bytes: UnsafeRawBufferPointer, compressed: [UInt8]?) throws -> WrittenFile {
            let path = "\(stagingPath)/\(relativePath)"
            if let slash = path.lastIndex(of: "/") { try Self.makeFolder(String(path[..<slash]), above: stagingPath) }
            if OutputTree.linkUnchanged(live: "\(publishPath)/\(relativePath)", to: path, bytes: bytes, compressed: compressed != nil) {
                return WrittenFile(bytes: 0, compressed: false)
            }
            try OutputTree.writeFile(at: path, bytes: bytes, startWriteback: startWriteback)
            guard let compressed else { return WrittenFile(bytes: bytes.count, compressed: false) }
            do {
                try compressed.withUnsafeBytes { try OutputTree.writeFile(at: path + ".gz", bytes: $0, startWriteback: startWriteback) }
            } catch {
                unlink(path)
                throw error
            }
            return WrittenFile(bytes: bytes.count + compressed.count, compressed: true)
        }

        /// mkdir -p, from the deepest folder up only as far as needed (usually one call).
        static func makeFolder(_ path: String, above root: String) throws {
            if mkdir(path, 0o755) == 0 || errno == EEXIST { return }
            guard errno == ENOENT, path.count > root.count, let slash = path.lastIndex(of: "/") else {
                throw BuildError(.write, file: path, "cannot create folder: \(String(cString: strerror(errno)))")
            }
            try makeFolder(String(path[..<slash]), above: root)
            if mkdir(path, 0o755) != 0 && errno != EEXIST {
                throw BuildError(.write, file: path, "cannot create folder: \(String(cString: strerror(errno)))")
            }
        }
    }

    var writer: Writer { Writer(stagingPath: stagingPath, publishPath: publishPath, startWriteback: startsWritebackPerFile) }

    /// Before the workers write: a build about to write more files than are synced one by one
    /// syncs the whole file system before publishing anyway, so a thread does it as the files
    /// come rather than each write starting its own small writeback. On a 10,000-product build
    /// from scratch that was about a tenth of the wall time (docs/benchmarks.md). A build of a
    /// few files keeps the per-file writeback: a syncfs now would wait for everything else
    /// dirty on the disk (the import just before), which is no business of a small rebuild.
    func expectWrites(_ count: Int) {
        guard syncBeforePublish, count > Self.filesSyncedOneByOne, backgroundSync == nil else { return }
        guard let started = ishop_background_sync_start(stagingPath, Self.backgroundSyncInterval) else { return }
        backgroundSync = started
        startsWritebackPerFile = false
    }

    var syncsInBackground: Bool { backgroundSync != nil }

    /// Stops the background sync, if any; the errno of a sync it saw fail, else 0.
    private func stopBackgroundSync() -> Int32 {
        guard let running = backgroundSync else { return 0 }
        backgroundSync = nil
        return ishop_background_sync_stop(running)
    }

    /// Before a worker writes `relativePath`: records it in the plan and takes the old file out of the spare.
    func prepare(_ relativePath: String, digest: String) throws {
        plan(relativePath, digest)
        try removeFromSpare(relativePath)
        pending.insert(relativePath)
    }

    /// `prepare` for a large output whose old file is deleted by the worker that writes the new
    /// one: the old file and its .gz are only renamed here (`filesMovedAside`). Deleting a 30 MB
    /// file (the Merchant Center feed) cost the kernel 30 ms on the thread that renders pages.
    func prepareMovingAside(_ relativePath: String, digest: String) throws {
        plan(relativePath, digest)
        pending.insert(relativePath)
        guard contents[relativePath] != nil else { return }
        let path = "\(stagingPath)/\(relativePath)"
        for file in [path + ".gz", path] {
            let aside = "\(stagingPath)/\(Self.asidePrefix)\(movedAside.count)"
            if rename(file, aside) == 0 {
                movedAside.append(aside)
            } else if errno != ENOENT {
                throw BuildError(.write, file: file, "cannot be replaced: \(String(cString: strerror(errno)))")
            }
        }
        contents.removeValue(forKey: relativePath)
        changedFolders.insert(Self.folder(of: relativePath))
    }

    /// Files moved aside by `prepareMovingAside`, for a worker to delete.
    var filesMovedAside: [String] { movedAside }

    /// Deletes files moved aside (on a worker, and again at the end of the build: by then it costs nothing).
    static func discard(_ paths: [String]) {
        for path in paths { unlink(path) }
    }

    static let asidePrefix = ".ishop-discard-"

    /// After a worker wrote `relativePath` (`bytes` in all, with its .gz if `compressed`).
    func recordWritten(_ relativePath: String, digest: String, _ file: WrittenFile) {
        needsSync(relativePath, compressed: file.compressed)
        bytesWritten += file.bytes
        if file.compressed { compressedFilesWritten += 1 }
        pending.remove(relativePath)
        contents[relativePath] = digest
    }

    /// Creates a folder of the staging tree, and only the missing ones above it: one mkdir per
    /// new folder, rather than one per path component (a catalog site has thousands of folders).
    private func ensureDirectory(_ path: String) throws {
        guard !createdDirectories.contains(path) else { return }
        if let slash = path.lastIndex(of: "/"), path.count > stagingPath.count {
            try ensureDirectory(String(path[..<slash]))
        }
        if mkdir(path, 0o755) != 0 && errno != EEXIST {
            throw BuildError(.write, file: path, "cannot create folder: \(String(cString: strerror(errno)))")
        }
        createdDirectories.insert(path)
    }

    static func makeDirectories(_ path: String) throws {
        var current = ""
        for component in path.split(separator: "/", omittingEmptySubsequences: true) {
            current += "/\(component)"
            if mkdir(current, 0o755) != 0 && errno != EEXIST {
                throw BuildError(.write, file: current, "cannot create folder: \(String(cString: strerror(errno)))")
            }
        }
    }

    // MARK: Publishing

    /// Room for `count` outputs in the plan this build records: 12,000 paths inserted one by one
    /// into a dictionary that grows as it goes rehashed it a dozen times.
    func expectOutputs(_ count: Int) {
        planned.reserveCapacity(count)
        plannedOrder.reserveCapacity(count)
    }

    /// Removes what the plan does not have, records the manifest and swaps the spare in.
    /// `encoded`: the manifest worked out beforehand (on another thread, while pages rendered)
    /// from the outputs the build meant to record. Written only if they are exactly the ones it
    /// recorded; otherwise the manifest is made here from what was recorded.
    func publish(encoded: BuildManifest.Encoded? = nil) throws {
        Self.discard(movedAside)
        for relativePath in contents.keys where planned[relativePath] == nil {
            try removeFromSpare(relativePath)
            removeEmptyFolders(above: relativePath)
        }
        filesRemoved = live.keys.filter { planned[$0] == nil }.count
        if let encoded, encoded.outputs == planned, encoded.order == plannedOrder {
            bytesWritten += try writeManifest(bytes: encoded.bytes)
            wroteEncodedManifest = true
        } else {
            bytesWritten += try writeManifest(BuildManifest(outputs: planned), order: plannedOrder)
        }
        // On disk before the swap: after a power cut, the folder Nginx serves must not hold files
        // that were renamed into place before their bytes were written (ext4 allocates late).
        // A write error that only shows now (EIO, a full disk at write-back) fails the build.
        // The background sync saw a write-back error the final sync will not report again.
        let failedInBackground = stopBackgroundSync()
        if failedInBackground != 0 {
            syncFailed = true
            throw BuildError(.publish, file: stagingPath, "cannot write the new site to disk: \(String(cString: strerror(failedInBackground)))")
        }
        if syncBeforePublish {
            do {
                try syncStaging()
            } catch {
                syncFailed = true
                throw error
            }
        }

        var status = stat()
        if lstat(publishPath, &status) != 0 {
            guard rename(stagingPath, publishPath) == 0 else {
                throw BuildError(.publish, file: publishPath, "cannot move the new site into place: \(String(cString: strerror(errno)))")
            }
            return
        }
        guard (status.st_mode & S_IFMT) == S_IFDIR else {
            throw BuildError(.publish, file: publishPath, "exists and is not a folder; refusing to replace it")
        }
        if ishop_exchange_paths(stagingPath, publishPath) == 0 {
            return  // the spare now holds the previous site, with its manifest: the next build's start
        }
        // File systems without RENAME_EXCHANGE: two renames, with a moment where the path is missing.
        let previous = stagingPath + ".previous"
        Self.removeTree(previous)
        guard rename(publishPath, previous) == 0 else {
            throw BuildError(.publish, file: publishPath, "cannot move the old site aside: \(String(cString: strerror(errno)))")
        }
        guard rename(stagingPath, publishPath) == 0 else {
            let reason = String(cString: strerror(errno))
            _ = rename(previous, publishPath)
            throw BuildError(.publish, file: publishPath, "cannot move the new site into place: \(reason)")
        }
        _ = rename(previous, stagingPath)
    }

    /// Makes the spare durable: the few files this build wrote and every folder they (or files
    /// linked, moved or removed) are in, one by one; or, after a larger build, the whole file
    /// system at once (syncfs), which costs one call instead of thousands.
    private func syncStaging() throws {
        func fail(_ path: String) -> BuildError {
            BuildError(.publish, file: path, "cannot write the new site to disk: \(String(cString: strerror(errno)))")
        }
        // Many changed folders too (the first rebuild after a build from scratch links every
        // page of the live tree into the spare): one call for the file system then as well.
        let afterUnsyncedBuild = access(unsyncedMarker, F_OK) == 0
        guard let files = filesToSync, files.count + changedFolders.count <= Self.filesSyncedOneByOne, !afterUnsyncedBuild else {
            if ishop_sync_filesystem(stagingPath) != 0 { throw fail(stagingPath) }
            // Everything is on disk now, a no-sync build's files included.
            if afterUnsyncedBuild { unlink(unsyncedMarker) }
            return
        }
        var folders = changedFolders  // links from the live tree and removals changed these
        for relative in files + [BuildManifest.fileName] {
            let path = "\(stagingPath)/\(relative)"
            if ishop_sync_file(path) != 0 { throw fail(path) }
            folders.insert(Self.folder(of: relative))
        }
        // A folder made in this build is an entry of the one above it: every folder up to the root.
        for folder in folders {
            var above = folder
            while !above.isEmpty {
                above = Self.folder(of: above)
                folders.insert(above)
            }
        }
        for folder in folders.sorted() {
            let path = folder.isEmpty ? stagingPath : "\(stagingPath)/\(folder)"
            if ishop_sync_file(path) != 0 && errno != ENOENT { throw fail(path) }  // gone: emptied and removed
        }
    }

    /// After a failed build: the live site was never touched; the spare's manifest is made to say
    /// what the spare now holds, so the next build can still start from it.
    func abandon() {
        if stopBackgroundSync() != 0 { syncFailed = true }
        Self.discard(movedAside)
        for relativePath in pending {
            unlink("\(stagingPath)/\(relativePath)")
            unlink("\(stagingPath)/\(relativePath).gz")
        }
        pending.removeAll()
        // What this build wrote may not be on disk yet, and the next build keeps whatever the
        // spare's manifest vouches for without syncing it again: the file system first.
        if syncBeforePublish {
            if ishop_sync_filesystem(stagingPath) == 0 { unlink(unsyncedMarker) } else { syncFailed = true }
        }
        // A write-back error is reported once: a sync that failed here or before (the cause of
        // this build's failure, perhaps) is not seen again by the next one. The spare then gets
        // no manifest, and the next build trusts none of its files (it renders the site anew).
        guard !syncFailed else { return }
        _ = try? writeManifest(BuildManifest(outputs: contents))
    }

    /// Set when a sync of this tree failed: `abandon` leaves the spare without a manifest.
    private(set) var syncFailed = false

    /// For tests: a sync failure (EIO from the disk) cannot be had on demand.
    func noteSyncFailure() { syncFailed = true }

    /// Written beside and renamed into place, so a crash never leaves half a manifest vouching
    /// for files. Returns the bytes written.
    private func writeManifest(_ manifest: BuildManifest, order: [String]? = nil) throws -> Int {
        try writeManifest(bytes: manifest.encoded(order: order))
    }

    private func writeManifest(bytes: [UInt8]) throws -> Int {
        let path = "\(stagingPath)/\(BuildManifest.fileName)"
        try bytes.withUnsafeBytes { try Self.writeFile(at: path + ".new", bytes: $0) }
        guard rename(path + ".new", path) == 0 else {
            throw BuildError(.write, file: path, "cannot be written: \(String(cString: strerror(errno)))")
        }
        return bytes.count
    }

    /// Folders left empty by removed outputs go too (a product's folder when its page goes).
    private func removeEmptyFolders(above relativePath: String) {
        var folder = Substring(relativePath)
        while let slash = folder.lastIndex(of: "/") {
            folder = folder[..<slash]
            let path = "\(stagingPath)/\(folder)"
            guard rmdir(path) == 0 else { return }  // not empty (or already gone): stop climbing
            createdDirectories.remove(path)
        }
    }

    /// Staging folders of ishop before the spare existed (`.public.staging-<pid>`), left by a build
    /// that was killed: removed once.
    static func removeLegacyStaging(for publishPath: String) {
        let url = URL(fileURLWithPath: publishPath)
        let parent = url.deletingLastPathComponent().path
        let prefix = ".\(url.lastPathComponent).staging-"
        for name in (try? FileManager.default.contentsOfDirectory(atPath: parent)) ?? [] where name.hasPrefix(prefix) {
            removeTree("\(parent)/\(name)")
        }
    }

    /// The folder a relative path is in ("" for the root).
    static func folder(of relativePath: String) -> String {
        relativePath.lastIndex(of: "/").map { String(relativePath[..<$0]) } ?? ""
    }

    static func removeTree(_ path: String) {
        try? FileManager.default.removeItem(atPath: path)
    }
}
