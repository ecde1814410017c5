import CSystemCalls
import Foundation

/// Writes a site into a staging folder beside the published one, then swaps the two in one
/// atomic step. Nginx (or `ishop serve`) reads either the old tree or the new, never a mix, and a
/// build that fails or is interrupted leaves the published site as it was.
///
/// Files are written with plain system calls: Foundation's FileManager and Data.write cost about
/// seven times as much per file, and a catalog site has tens of thousands of files.
final class OutputTree {
    let publishPath: String
    let stagingPath: String
    private(set) var filesWritten = 0
    private(set) var bytesWritten = 0
    /// `.gz` files written beside text files (not counted in `filesWritten`).
    private(set) var compressedFilesWritten = 0
    /// Files taken over from the published site unchanged (hard links, not counted in `filesWritten`).
    private(set) var filesReused = 0
    let precompress: Bool
    private var createdDirectories: Set<String> = []
    /// Relative paths written so far: a static file must not silently replace a generated page.
    private var writtenPaths: Set<String> = []

    /// Prefix of staging folders; leftovers of an interrupted build are removed by the next one.
    static func stagingPrefix(for publishPath: String) -> String {
        let url = URL(fileURLWithPath: publishPath)
        return url.deletingLastPathComponent().appendingPathComponent(".\(url.lastPathComponent).staging-").path
    }

    /// Written into every site ishop publishes: only a folder that has it (or is empty) may be replaced.
    static let markerName = ".ishop-site"

    init(publishPath: String, precompress: Bool = true) throws {
        self.publishPath = publishPath
        self.precompress = precompress
        try Self.checkReplaceable(publishPath)
        let parent = URL(fileURLWithPath: publishPath).deletingLastPathComponent().path
        try Self.makeDirectories(parent)
        Self.removeStaleStaging(for: publishPath)
        stagingPath = Self.stagingPrefix(for: publishPath) + String(getpid())
        Self.removeTree(stagingPath)
        guard mkdir(stagingPath, 0o755) == 0 else {
            throw BuildError(.write, file: stagingPath, "cannot create the staging folder: \(String(cString: strerror(errno)))")
        }
        createdDirectories.insert(stagingPath)
        try write(Self.markerName, "This folder is written by `ishop build` and replaced whole on every build.\n")
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

    /// Writes `contents` at `relativePath` ("products/x/index.html") inside the staging tree.
    func write(_ relativePath: String, _ contents: String) throws {
        var text = contents
        try text.withUTF8 { try write(relativePath, bytes: UnsafeRawBufferPointer($0)) }
    }

    func write(_ relativePath: String, bytes: UnsafeRawBufferPointer) throws {
        let compressed = precompress ? Self.compressedCopy(of: bytes, path: relativePath) : nil
        try write(relativePath, bytes: bytes, compressed: compressed)
    }

    /// Writes a file whose gzip copy was made already (by a rendering worker, off this thread).
    func write(_ relativePath: String, bytes: UnsafeRawBufferPointer, compressed: [UInt8]?) throws {
        try writeFile(relativePath, bytes: bytes)
        filesWritten += 1
        bytesWritten += bytes.count
        writtenPaths.insert(relativePath)
        if let compressed {
            try compressed.withUnsafeBytes { try writeFile(relativePath + ".gz", bytes: $0) }
            compressedFilesWritten += 1
            bytesWritten += compressed.count
        }
    }

    /// Takes a file of the published site (and its .gz) into the new tree as it is: a hard link,
    /// so an unchanged page is neither rendered nor rewritten. False when there is nothing to take.
    func reuse(_ relativePath: String) throws -> Bool {
        let old = "\(publishPath)/\(relativePath)"
        let new = "\(stagingPath)/\(relativePath)"
        guard access(old, R_OK) == 0 else { return false }
        if let slash = relativePath.lastIndex(of: "/") {
            try ensureDirectory("\(stagingPath)/\(relativePath[..<slash])")
        }
        guard link(old, new) == 0 else { return false }
        if access(old + ".gz", R_OK) == 0, link(old + ".gz", new + ".gz") != 0 {
            // A page without its .gz would make Nginx serve a stale one: render it instead.
            unlink(new)
            return false
        }
        filesReused += 1
        writtenPaths.insert(relativePath)
        return true
    }

    /// The .gz to write beside a text file for Nginx's gzip_static, when it is smaller.
    static func compressedCopy(of bytes: UnsafeRawBufferPointer, path: String) -> [UInt8]? {
        guard bytes.count >= Gzip.minimumSize, Gzip.isText(path), let compressed = Gzip.compress(bytes),
              compressed.count < bytes.count
        else { return nil }
        return compressed
    }

    private func writeFile(_ relativePath: String, bytes: UnsafeRawBufferPointer) throws {
        let path = "\(stagingPath)/\(relativePath)"
        if let slash = relativePath.lastIndex(of: "/") {
            try ensureDirectory("\(stagingPath)/\(relativePath[..<slash])")
        }
        let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw BuildError(.write, file: path, "cannot be created: \(String(cString: strerror(errno)))") }
        defer { close(fd) }
        var offset = 0
        while offset < bytes.count {
            let written = Glibc.write(fd, bytes.baseAddress! + offset, bytes.count - offset)
            if written < 0 {
                if errno == EINTR { continue }
                throw BuildError(.write, file: path, "cannot be written: \(String(cString: strerror(errno)))")
            }
            offset += written
        }
    }

    func hasWritten(_ relativePath: String) -> Bool {
        writtenPaths.contains(relativePath)
    }

    func copy(from source: String, to relativePath: String) throws {
        guard let data = FileManager.default.contents(atPath: source) else {
            throw BuildError(.write, file: source, "cannot be read")
        }
        try data.withUnsafeBytes { try write(relativePath, bytes: $0) }
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

    /// Replaces the published tree with the staging tree, atomically where the kernel allows.
    func publish() throws {
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
        // public/.gitkeep is tracked by git in the shop's repository: carry it over.
        if access("\(publishPath)/.gitkeep", F_OK) == 0 { try write(".gitkeep", "") }
        if ishop_exchange_paths(stagingPath, publishPath) == 0 {
            Self.removeTree(stagingPath)  // now holds the previous site
            return
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
        Self.removeTree(previous)
    }

    /// Drops the staging tree (after a failed build).
    func discard() {
        Self.removeTree(stagingPath)
    }

    static func removeStaleStaging(for publishPath: String) {
        let prefix = stagingPrefix(for: publishPath)
        let parent = URL(fileURLWithPath: prefix).deletingLastPathComponent().path
        let namePrefix = URL(fileURLWithPath: prefix).lastPathComponent
        for name in (try? FileManager.default.contentsOfDirectory(atPath: parent)) ?? [] where name.hasPrefix(namePrefix) {
            // Only folders of processes that are gone: a concurrent build keeps its own.
            let pidText = name.dropFirst(namePrefix.count).prefix(while: \.isNumber)
            if let pid = Int32(pidText), pid != getpid(), kill(pid, 0) == 0 { continue }
            removeTree("\(parent)/\(name)")
        }
    }

    static func removeTree(_ path: String) {
        try? FileManager.default.removeItem(atPath: path)
    }
}
