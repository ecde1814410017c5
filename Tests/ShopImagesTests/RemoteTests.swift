import Foundation
import Logging
import ShopCore
import Synchronization
import Testing
@testable import ShopImages

/// Against the real stand-in CDN (../shared/bench/cdn.py) on 127.0.0.1. Timeouts are short enough
/// to keep the tests quick and long enough for a CDN in Python answering on a machine busy with
/// the rest of the suite (400 ms was not); nothing asserts on elapsed time, only on outcomes and
/// the CDN's request counts. One test at a time, for the same reason.
@Suite("Remote sources", .serialized)
struct RemoteTests {
    static let fastFetch = [
        "  widths: [64]", "  fallbackWidth: 64",
        "  fetch:", "    connectTimeoutMs: 5000", "    readTimeoutMs: 5000", "    deadlineMs: 45000",
        "    retries: 2", "    allowedPrivateHosts: [127.0.0.1]",
    ]

    func makeFetcher(_ config: SiteConfig, offline: Bool = false) -> RemoteFetcher {
        RemoteFetcher(settings: config.images, cacheDirectory: config.resolve("cache/remote"), offline: offline,
                      logger: Logger(label: "test"))
    }

    @Test("A fetched source is cached and revalidated with its ETag (304)")
    func revalidation() async throws {
        let cdn = try StandInCDN()
        defer { cdn.stop() }
        let scratch = try Scratch()
        defer { scratch.remove() }
        let config = try scratch.config(Self.fastFetch)
        let fetcher = makeFetcher(config)
        // Shut down on every path: an HTTPClient dropped without it stops the whole test process.
        let fetched: Result<(RemoteFetcher.Fetched, RemoteFetcher.Fetched), any Error>
        do {
            fetched = .success((try await fetcher.fetch(cdn.url("bird-lamp.jpg")), try await fetcher.fetch(cdn.url("bird-lamp.jpg"))))
        } catch {
            fetched = .failure(error)
        }
        await fetcher.shutdown()
        let (first, second) = try fetched.get()
        #expect(!first.revalidated && !first.stale)
        #expect(second.revalidated)
        #expect(second.bytes == first.bytes)
        let original = try ImageFixtures.photo("bird-lamp.jpg")
        #expect(first.bytes == original)
        // Two at least: the second fetch asked again (with If-None-Match); a retry on a busy machine adds one.
        #expect(try await cdn.requests("bird-lamp.jpg") >= 2)
    }

    @Test("Hanging, failing and missing sources end in placeholders and warnings; 503s are retried")
    func misbehavingCDN() async throws {
        let cdn = try StandInCDN(["--hang", "fig-*", "--500", "kite-sky.jpg", "--404", "marigold.jpg", "--fail-first", "2"])
        defer { cdn.stop() }
        let scratch = try Scratch()
        defer { scratch.remove() }
        let config = try scratch.config(Self.fastFetch)
        let sources = ["fig-bowl.jpg", "kite-sky.jpg", "marigold.jpg", "ladybird.jpg"].map { ImageSource(cdn.url($0), alt: $0) }
        let report = try await ImagePipeline.prepare(sources: sources, config: config, outputDirectory: scratch.publicDirectory)

        // --fail-first 2 answers 503 twice, then serves: two retries get it.
        #expect(report.processed == 1)
        #expect(report.sets[cdn.url("ladybird.jpg")]?.isPlaceholderOnly == false)
        #expect(try await cdn.requests("ladybird.jpg") == 3)

        #expect(report.failed == 3)
        let messages = Dictionary(uniqueKeysWithValues: report.warnings.map { ($0.source, $0.message) })
        // A source that never answers ends by the read timeout, or (on a starved machine) by the deadline.
        let hung = messages[cdn.url("fig-bowl.jpg")] ?? ""
        #expect(hung.contains("timed out") || hung.contains("deadline"), "\(messages)")
        #expect(messages[cdn.url("kite-sky.jpg")]?.contains("HTTP 500") == true, "\(messages)")
        #expect(messages[cdn.url("marigold.jpg")]?.contains("HTTP 404") == true, "\(messages)")
        for name in ["fig-bowl.jpg", "kite-sky.jpg", "marigold.jpg"] {
            #expect(report.sets[cdn.url(name)]?.isPlaceholderOnly == true)
        }
        // Hangs and 5xx are retried (1 + 2 retries); a 404 is final at once.
        #expect(try await cdn.requests("fig-bowl.jpg") == 3)
        #expect(try await cdn.requests("kite-sky.jpg") == 3)
        #expect(try await cdn.requests("marigold.jpg") == 1)
    }

    @Test("A body that trickles in slower than the deadline allows ends in a placeholder")
    func tricklingBody() async throws {
        let cdn = try StandInCDN(["--kbps", "16"])  // bird-lamp.jpg (281 KiB) would take about 18 s
        defer { cdn.stop() }
        let scratch = try Scratch()
        defer { scratch.remove() }
        // A long read timeout, so that only the deadline can end it (the CDN pauses between 64 KiB chunks).
        let config = try scratch.config(Self.fastFetch.map {
            $0.contains("deadlineMs") ? "    deadlineMs: 1500" : $0.contains("readTimeoutMs") ? "    readTimeoutMs: 10000" : $0
        })
        let report = try await ImagePipeline.prepare(
            sources: [ImageSource(cdn.url("bird-lamp.jpg"))], config: config, outputDirectory: scratch.publicDirectory)
        #expect(report.failed == 1)
        #expect(report.warnings.first?.message.contains("deadline") == true, "\(report.warnings)")
    }

    @Test("With the CDN down, or offline, a second build uses the cache; an uncached source is a warning")
    func cdnDownAndOffline() async throws {
        let cdn = try StandInCDN()
        let scratch = try Scratch()
        defer { scratch.remove() }
        let config = try scratch.config(Self.fastFetch)
        let sources = [ImageSource(cdn.url("ladybird.jpg"))]
        let cold = try await ImagePipeline.prepare(sources: sources, config: config, outputDirectory: scratch.publicDirectory)
        #expect(cold.processed == 1)
        cdn.stop()

        let down = try await ImagePipeline.prepare(sources: sources, config: config, outputDirectory: scratch.publicDirectory)
        #expect(down.failed == 0)
        #expect(down.cached == 1 && down.processed == 0)
        #expect(down.staleRemote == 1)

        let offlineSources = sources + [ImageSource(cdn.url("never-fetched.jpg"))]
        let offline = try await ImagePipeline.prepare(
            sources: offlineSources, config: config, outputDirectory: scratch.publicDirectory, options: .init(offline: true, prune: false))
        #expect(offline.cached == 1)
        #expect(offline.failed == 1)
        #expect(offline.warnings.first?.message.contains("offline") == true)
    }

    @Test("Private and loopback addresses are refused unless site.yml allows them")
    func privateAddressesRefused() async throws {
        let cdn = try StandInCDN()
        defer { cdn.stop() }
        let scratch = try Scratch()
        defer { scratch.remove() }
        let config = try scratch.config(["  widths: [64]", "  fallbackWidth: 64"])
        let sources = [cdn.url("ladybird.jpg"), "http://localhost:\(cdn.port)/photos/marigold.jpg",
                       "http://169.254.169.254/latest/meta-data", "http://10.1.2.3/x.jpg", "ftp://example.com/x.jpg"]
        let report = try await ImagePipeline.prepare(
            sources: sources.map { ImageSource($0) }, config: config, outputDirectory: scratch.publicDirectory)
        #expect(report.failed == sources.count)
        for warning in report.warnings where !warning.source.hasPrefix("ftp:") {
            #expect(warning.message.contains("refused"), "\(warning)")
        }
        #expect(report.warnings.first { $0.source.hasPrefix("ftp:") }?.message.contains("http") == true)
        #expect(try await cdn.requests("ladybird.jpg") == 0)
        #expect(try await cdn.requests("marigold.jpg") == 0)

        #expect(NetworkAddress(bytes: [8, 8, 8, 8], text: "8.8.8.8").isPublic)
        #expect(!NetworkAddress(bytes: [192, 168, 1, 1], text: "").isPublic)
        #expect(!NetworkAddress(bytes: [172, 20, 0, 1], text: "").isPublic)
        #expect(NetworkAddress(bytes: [172, 32, 0, 1], text: "").isPublic)
        #expect(!NetworkAddress(bytes: Array(repeating: 0, count: 15) + [1], text: "::1").isPublic)
        #expect(!NetworkAddress(bytes: [0xFE, 0x80] + Array(repeating: 0, count: 14), text: "").isPublic)
        #expect(!NetworkAddress(bytes: Array(repeating: 0, count: 10) + [0xFF, 0xFF, 127, 0, 0, 1], text: "").isPublic)
    }

    @Test("A host name is fetched from the address it was checked at (no second lookup for DNS rebinding to fool), once per host")
    func checkedAddressIsPinned() async throws {
        let cdn = try StandInCDN()
        defer { cdn.stop() }
        let scratch = try Scratch()
        defer { scratch.remove() }
        // No DNS knows shop-cdn.test (a reserved name): only the fetcher's own lookup does, and it
        // says 127.0.0.1, an address site.yml allows. The fetch succeeds only if the connection
        // goes to that checked address rather than through a second lookup.
        let lookups = Mutex(0)
        let config = try scratch.config(["  fetch:", "    allowedPrivateHosts: [127.0.0.1]"])
        let fetcher = RemoteFetcher(settings: config.images, cacheDirectory: config.resolve("cache/remote"), offline: false,
                                    logger: Logger(label: "test")) { name in
            lookups.withLock { $0 += 1 }
            return name == "shop-cdn.test" ? [NetworkAddress(bytes: [127, 0, 0, 1], text: "127.0.0.1")] : []
        }
        // Shut down on every path: an HTTPClient dropped without it stops the test process.
        let fetched: [RemoteFetcher.Fetched]
        do {
            fetched = [try await fetcher.fetch("http://shop-cdn.test:\(cdn.port)/photos/marigold.jpg"),
                       try await fetcher.fetch("http://shop-cdn.test:\(cdn.port)/photos/ladybird.jpg")]
        } catch {
            await fetcher.shutdown()
            throw error
        }
        await fetcher.shutdown()
        #expect(fetched[0].bytes == (try ImageFixtures.photo("marigold.jpg")))
        #expect(fetched[1].bytes == (try ImageFixtures.photo("ladybird.jpg")))
        #expect(lookups.withLock { $0 } == 1, "one lookup per host for the whole build")

        // IPv4 first: pinning takes away AsyncHTTPClient's fallback between address families.
        let v6 = NetworkAddress(bytes: [0x20, 0x01, 0x0d, 0xb8] + Array(repeating: 0, count: 11) + [1], text: "2001:db8::1")
        let v4 = NetworkAddress(bytes: [93, 184, 216, 34], text: "93.184.216.34")
        #expect(RemoteFetcher.pinnedAddress([v6, v4]) == "93.184.216.34")
        #expect(RemoteFetcher.pinnedAddress([v6]) == "2001:db8::1")
        #expect(RemoteFetcher.pinnedAddress([]) == nil)
    }

    @Test("A body over the size limit is refused, and strict mode fails the stage")
    func oversizedAndStrict() async throws {
        let cdn = try StandInCDN()
        defer { cdn.stop() }
        let scratch = try Scratch()
        defer { scratch.remove() }
        let config = try scratch.config(Self.fastFetch + ["    maxBytes: 10000"])
        let sources = [ImageSource(cdn.url("bird-lamp.jpg"))]
        let report = try await ImagePipeline.prepare(sources: sources, config: config, outputDirectory: scratch.publicDirectory)
        #expect(report.failed == 1)
        #expect(report.warnings.first?.message.contains("more than the 10000") == true, "\(report.warnings)")
        #expect(try await cdn.requests("bird-lamp.jpg") == 1)  // too large is final, not retried

        await #expect(throws: ImagePipelineError.self) {
            try await ImagePipeline.prepare(
                sources: sources, config: config, outputDirectory: scratch.publicDirectory, options: .init(strict: true))
        }
    }
}
