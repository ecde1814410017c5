import Crypto
import Foundation
import Logging
import ShopCore

/// The image stage of a build: every distinct product image becomes a responsive WebP set with
/// a fallback under public/img/, content-addressed, made once and then served from a cache.
/// A source that cannot be had becomes a placeholder and a warning, never a broken image.
public enum ImagePipeline {
    public struct Options: Sendable {
        /// Remote sources come from the on-disk cache only.
        public var offline = false
        /// Any warning fails the stage.
        public var strict = false
        /// Remove outputs and cache entries this run did not use.
        public var prune = true
        /// Images decoded and encoded at once (`ishop build --jobs`); the number of cores by default.
        public var jobs = ProcessInfo.processInfo.activeProcessorCount
        public init(offline: Bool = false, strict: Bool = false, prune: Bool = true, jobs: Int = ProcessInfo.processInfo.activeProcessorCount) {
            self.offline = offline
            self.strict = strict
            self.prune = prune
            self.jobs = max(1, jobs)
        }
    }

    /// Makes (or finds in the cache) the set of every source, writes the files under
    /// `outputDirectory`/img/, and reports what happened. Throws only for strict mode or an
    /// unusable cache folder; a bad source is a warning in the report.
    public static func prepare(
        sources: [ImageSource], config: SiteConfig, outputDirectory: String, options: Options = .init(),
        logger: Logger = Logger(label: "ishop.images"),
        progress: (@Sendable (ImageProgress) -> Void)? = nil
    ) async throws -> ImageReport {
        var distinct: [ImageSource] = []
        var seen = Set<String>()
        for source in sources where seen.insert(source.reference).inserted { distinct.append(source) }

        let settings = config.images
        let cache = ImageCache(root: config.resolve(settings.cacheDir))
        let imageDirectory = outputDirectory + "/img"
        do {
            try cache.create()
            try FileManager.default.createDirectory(atPath: imageDirectory, withIntermediateDirectories: true)
        } catch {
            throw ImagePipelineError.cache("cannot create \(cache.root) or \(imageDirectory): \(error)")
        }
        let fetcher = distinct.contains(where: \.isRemote)
            ? RemoteFetcher(settings: settings, cacheDirectory: cache.remote, offline: options.offline, logger: logger) : nil
        let parameterTag = ImageRenderer(settings: settings).parameterTag
        let memo = LocalSourceMemo.load(from: cache.localSourceMemo, parameterTag: parameterTag)
        let work = SourceWork(
            settings: settings, config: config, cache: cache, imageDirectory: imageDirectory, fetcher: fetcher,
            cores: AsyncLimiter(limit: max(1, options.jobs)), memo: memo, logger: logger)
        var nextMemo = LocalSourceMemo(parameterTag: parameterTag)

        var report = ImageReport()
        var usedFiles = Set<String>()
        var usedKeys = Set<String>()
        // A window of sources in flight bounds memory (each holds its source bytes); the core
        // limiter inside bounds decoding to one image per core.
        let window = max(4, max(1, options.jobs) * 2)
        await withTaskGroup(of: SourceOutcome.self) { group in
            var next = 0
            func startNext() {
                guard next < distinct.count else { return }
                let source = distinct[next]
                next += 1
                group.addTask { await work.run(source) }
            }
            for _ in 0..<window { startNext() }
            var done = 0
            for await outcome in group {
                done += 1
                report.sets[outcome.set.source] = outcome.set
                switch outcome.kind {
                case .processed: report.processed += 1
                case .cached: report.cached += 1
                case .failed(let warning):
                    report.failed += 1
                    report.warnings.append(warning)
                }
                if outcome.stale { report.staleRemote += 1 }
                if outcome.readLocalSource { report.localSourcesRead += 1 }
                if let (path, entry) = outcome.memo { nextMemo.entries[path] = entry }
                if let key = outcome.key { usedKeys.insert(key) }
                if let largest = outcome.set.webp.last {
                    report.bytesSaved += max(0, outcome.set.sourceBytes - largest.bytes)
                }
                for variant in outcome.set.webp { usedFiles.insert((variant.file as NSString).lastPathComponent) }
                if let fallback = outcome.set.fallback { usedFiles.insert((fallback.file as NSString).lastPathComponent) }
                progress?(ImageProgress(done: done, total: distinct.count))
                startNext()
            }
        }
        await fetcher?.shutdown()
        report.warnings.sort { $0.source < $1.source }
        // Only the sources of this run: entries of removed products go with them.
        nextMemo.save(to: cache.localSourceMemo, logger: logger)

        if options.prune {
            prune(directory: imageDirectory, keeping: usedFiles)
            prune(directory: cache.files, keeping: usedFiles)
            prune(directory: cache.sets, keeping: Set(usedKeys.map { $0 + ".json" }))
            if let fetcher {
                let remote = distinct.filter(\.isRemote).map(\.reference)
                prune(directory: cache.remote, keeping: fetcher.cacheFiles(for: remote))
            }
        }
        // Every image at debug level; the build prints them grouped (ImageWarningGroup).
        for warning in report.warnings {
            logger.debug("image warning", metadata: ["source": "\(warning.source)", "reason": "\(warning.message)"])
        }
        if options.strict && !report.warnings.isEmpty { throw ImagePipelineError.strict(report.warnings) }
        return report
    }

    private static func prune(directory: String, keeping: Set<String>) {
        guard let names = try? FileManager.default.contentsOfDirectory(atPath: directory) else { return }
        for name in names where !keeping.contains(name) {
            try? FileManager.default.removeItem(atPath: directory + "/" + name)
        }
    }
}

/// The cache folder: `sets/KEY.json` (a made set), `files/NAME` (its outputs), `remote/` (fetched sources).
struct ImageCache: Sendable {
    let root: String
    var sets: String { root + "/sets" }
    var files: String { root + "/files" }
    var remote: String { root + "/remote" }
    var localSourceMemo: String { root + "/local-sources.json" }

    func create() throws {
        for folder in [sets, files, remote] {
            try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        }
    }

    /// The set made earlier under `key`, if every one of its files is still there.
    func set(for key: String) -> ImageSet? {
        guard let data = FileManager.default.contents(atPath: "\(sets)/\(key).json"),
              let set = try? JSONDecoder().decode(ImageSet.self, from: data), let fallback = set.fallback
        else { return nil }
        let names = (set.webp + [fallback]).map { ($0.file as NSString).lastPathComponent }
        guard names.allSatisfy({ FileManager.default.fileExists(atPath: "\(files)/\($0)") }) else { return nil }
        return set
    }

    func store(_ output: ImageRenderer.Output, key: String) throws {
        for file in output.files {
            try Data(file.bytes).write(to: URL(fileURLWithPath: "\(files)/\(file.name)"), options: .atomic)
        }
        // The set last: it vouches for files that are already complete.
        try JSONEncoder().encode(output.set).write(to: URL(fileURLWithPath: "\(sets)/\(key).json"), options: .atomic)
    }
}

private struct SourceOutcome: Sendable {
    enum Kind: Sendable {
        case processed, cached
        case failed(ImageWarning)
    }
    var set: ImageSet
    var kind: Kind
    var key: String?
    var stale = false
    var readLocalSource = false
    /// What to remember about a local source for the next build.
    var memo: (path: String, entry: LocalSourceMemo.Entry)?
}

/// The set key each local source file had, by the file's size, modification time (ns) and
/// inode, so a warm build stats its sources instead of reading and hashing every byte of them
/// (a catalog's photos are gigabytes). A file rewritten in place gets a new modification time;
/// the key is dropped whenever the output parameters change.
struct LocalSourceMemo: Codable, Sendable {
    struct Entry: Codable, Sendable, Equatable {
        var size: Int64
        var modifiedNanoseconds: Int64
        var inode: UInt64
        var key: String
    }
    var parameterTag: String
    var entries: [String: Entry] = [:]

    static func load(from path: String, parameterTag: String) -> LocalSourceMemo {
        guard let data = FileManager.default.contents(atPath: path),
              let memo = try? JSONDecoder().decode(LocalSourceMemo.self, from: data), memo.parameterTag == parameterTag
        else { return LocalSourceMemo(parameterTag: parameterTag) }
        return memo
    }

    func save(to path: String, logger: Logger) {
        do {
            try JSONEncoder().encode(self).write(to: URL(fileURLWithPath: path), options: .atomic)
        } catch {
            // Only an optimisation: the next build reads and hashes its sources again.
            logger.notice("cannot remember local image sources", metadata: ["path": "\(path)", "error": "\(error)"])
        }
    }

    /// The file's identity now (the key left empty), or nil when it cannot be had.
    static func identity(of path: String) -> Entry? {
        var info = stat()
        guard stat(path, &info) == 0 else { return nil }
        return Entry(size: Int64(info.st_size), modifiedNanoseconds: Int64(info.st_mtim.tv_sec) * 1_000_000_000 + Int64(info.st_mtim.tv_nsec),
                     inode: UInt64(info.st_ino), key: "")
    }
}

/// One source from bytes to published files; shared read-only by every task.
private struct SourceWork: Sendable {
    let settings: SiteConfig.ImageSettings
    let config: SiteConfig
    let cache: ImageCache
    let imageDirectory: String
    let fetcher: RemoteFetcher?
    let cores: AsyncLimiter
    let memo: LocalSourceMemo
    let logger: Logger

    func run(_ source: ImageSource) async -> SourceOutcome {
        var stale = false
        let bytes: [UInt8]
        var remembered: (path: String, entry: LocalSourceMemo.Entry)?
        do {
            if source.isRemote {
                guard let fetcher else { throw FetchFailure(message: "no fetcher", retryable: false) }
                let fetched = try await fetcher.fetch(source.reference)
                bytes = fetched.bytes
                stale = fetched.stale
            } else {
                let path = try localPath(source.reference)
                // The identity is taken before the bytes are read: a file changed in between has
                // a newer modification time than the one remembered, and is read again next time.
                if let identity = LocalSourceMemo.identity(of: path) {
                    if let known = memo.entries[path], known.size == identity.size,
                       known.modifiedNanoseconds == identity.modifiedNanoseconds, known.inode == identity.inode,
                       let outcome = fromCache(source, key: known.key, stale: false) {
                        var outcome = outcome
                        outcome.memo = (path, known)
                        return outcome
                    }
                    remembered = (path, identity)
                }
                bytes = try readLocal(path)
            }
        } catch {
            return failed(source, "\(error)")
        }

        let renderer = ImageRenderer(settings: settings)
        var hasher = SHA256()
        hasher.update(data: bytes)
        hasher.update(data: Data(renderer.parameterTag.utf8))
        let key = String(hasher.finalize().map { String(format: "%02x", $0) }.joined().prefix(24))
        let memoEntry = remembered.map { remembered -> (path: String, entry: LocalSourceMemo.Entry) in
            var entry = remembered.entry
            entry.key = key
            return (remembered.path, entry)
        }

        if var outcome = fromCache(source, key: key, stale: stale) {
            outcome.readLocalSource = !source.isRemote
            outcome.memo = memoEntry
            return outcome
        }

        let rendered: Result<ImageRenderer.Output, Error> = await cores.run {
            await withCheckedContinuation { continuation in
                // Decoding and encoding are long CPU runs: on their own threads, not the async pool's.
                DispatchQueue.global(qos: .userInitiated).async {
                    continuation.resume(returning: Result {
                        try renderer.render(bytes, key: key, alt: source.alt, source: source.reference)
                    })
                }
            }
        }
        switch rendered {
        case .success(let output):
            do {
                try cache.store(output, key: key)
                try publish(output.set)
            } catch {
                return failed(source, "cannot write its outputs: \(error)")
            }
            return SourceOutcome(set: output.set, kind: .processed, key: key, stale: stale,
                                 readLocalSource: !source.isRemote, memo: memoEntry)
        case .failure(let error):
            return failed(source, "\(error)")
        }
    }

    /// The set made earlier under `key`, published; nil when the cache does not hold it.
    private func fromCache(_ source: ImageSource, key: String, stale: Bool) -> SourceOutcome? {
        guard var set = cache.set(for: key) else { return nil }
        do {
            try publish(set)
            // The cached set may have been made for another source with the same bytes.
            set.source = source.reference
            set.alt = source.alt
            return SourceOutcome(set: set, kind: .cached, key: key, stale: stale)
        } catch {
            return failed(source, "cannot publish from the cache: \(error)")
        }
    }

    private func failed(_ source: ImageSource, _ message: String) -> SourceOutcome {
        SourceOutcome(set: .standIn(for: source), kind: .failed(ImageWarning(source: source.reference, message: message)))
    }

    /// A path relative to the site folder (a leading "/" means the site folder too, unless the
    /// file exists at that absolute path). Other URL schemes are refused. The file, with every
    /// symbolic link and ".." resolved, must lie in the site folder or in one of
    /// images.localFolders: the catalog is untrusted, and a path in it must not publish any
    /// picture the build can read.
    private func localPath(_ reference: String) throws -> String {
        if reference.contains("://") || reference.lowercased().hasPrefix("data:") {
            throw FetchFailure(message: "only http and https URLs or local paths are allowed", retryable: false)
        }
        let given = reference.hasPrefix("/") && FileManager.default.fileExists(atPath: reference)
            ? reference : config.resolve(String(reference.drop(while: { $0 == "/" })))
        // The reason names no path: the source says which file, and warnings are grouped by reason.
        guard let real = Self.realPath(given) else { throw FetchFailure(message: "no such file", retryable: false) }
        let roots = ([config.siteDirectory] + config.images.localFolders.map { config.resolve($0) }).compactMap(Self.realPath)
        guard roots.contains(where: { real.hasPrefix($0.hasSuffix("/") ? $0 : $0 + "/") }) else {
            throw FetchFailure(
                message: "refused: \(real) is outside the site folder; list its folder in images.localFolders to allow it",
                retryable: false)
        }
        return real
    }

    /// The path with symbolic links, "." and ".." resolved (realpath), or nil if it does not exist.
    static func realPath(_ path: String) -> String? {
        guard let resolved = realpath(path, nil) else { return nil }
        defer { free(resolved) }
        return String(cString: resolved)
    }

    private func readLocal(_ path: String) throws -> [UInt8] {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory), !isDirectory.boolValue else {
            throw FetchFailure(message: "no such file", retryable: false)
        }
        if let size = (try? FileManager.default.attributesOfItem(atPath: path))?[.size] as? Int, size > settings.maxBytes {
            throw FetchFailure(message: "is \(size) bytes, more than the \(settings.maxBytes) allowed (images.fetch.maxBytes)", retryable: false)
        }
        guard let data = FileManager.default.contents(atPath: path) else {
            throw FetchFailure(message: "cannot be read", retryable: false)
        }
        return [UInt8](data)
    }

    /// Hard links from the cache into public/img (a copy where links cannot be made).
    private func publish(_ set: ImageSet) throws {
        guard let fallback = set.fallback else { return }
        for variant in set.webp + [fallback] {
            let name = (variant.file as NSString).lastPathComponent
            let target = "\(imageDirectory)/\(name)"
            if FileManager.default.fileExists(atPath: target) { continue }
            let origin = "\(cache.files)/\(name)"
            // Another source with the same bytes may publish the same name at the same moment.
            if link(origin, target) != 0 && !FileManager.default.fileExists(atPath: target) {
                try FileManager.default.copyItem(atPath: origin, toPath: target)
            }
        }
    }
}
