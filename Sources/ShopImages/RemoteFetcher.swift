import AsyncHTTPClient
import Crypto
import Foundation
import Logging
import NIOCore
import ShopCore
import Synchronization

/// Why a remote source could not be had; the message is what the build summary shows.
struct FetchFailure: Error, CustomStringConvertible {
    var message: String
    /// Worth another attempt (timeouts, dropped connections, 5xx, 429).
    var retryable: Bool
    var description: String { message }
}

/// A semaphore for async code: at most `limit` holders at a time, waiters served in order.
actor AsyncLimiter {
    let limit: Int
    private var running = 0
    private var waiters: [CheckedContinuation<Void, Never>] = []

    init(limit: Int) { self.limit = max(1, limit) }

    func acquire() async {
        if running < limit {
            running += 1
            return
        }
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            waiters.append(continuation)
        }
    }

    /// Hands the slot straight to the next waiter, so `running` never dips and rises again.
    func release() {
        if waiters.isEmpty {
            running -= 1
        } else {
            waiters.removeFirst().resume()
        }
    }

    func run<T: Sendable>(_ work: @Sendable () async throws -> T) async rethrows -> T {
        await acquire()
        defer { release() }
        return try await work()
    }
}

/// One limiter per host, made on first use.
actor HostLimiters {
    private let limit: Int
    private var limiters: [String: AsyncLimiter] = [:]
    init(limit: Int) { self.limit = limit }
    func limiter(for host: String) -> AsyncLimiter {
        if let existing = limiters[host] { return existing }
        let made = AsyncLimiter(limit: limit)
        limiters[host] = made
        return made
    }
}

/// Fetches product images at build time: timeouts, a deadline, retries with back-off and
/// jitter, a per-host limit, a body cap, an on-disk cache revalidated with ETag/Last-Modified,
/// offline mode, and no private addresses unless site.yml allows them.
final class RemoteFetcher: Sendable {
    struct Fetched {
        var bytes: [UInt8]
        /// Served from the on-disk cache because the origin failed or we are offline.
        var stale: Bool
        /// The origin answered 304 Not Modified: the cached copy is current.
        var revalidated = false
    }

    private struct CacheMeta: Codable {
        var url: String
        var etag: String?
        var lastModified: String?
    }

    let settings: SiteConfig.ImageSettings
    let cacheDirectory: String
    let offline: Bool
    let logger: Logger
    private let client: HTTPClient
    private let configuration: HTTPClient.Configuration
    /// One client per host name and the address it was checked at ("host address" -> client):
    /// AsyncHTTPClient would resolve the name again when it connects, and a name that resolved
    /// to a public address for the check could resolve to a private one then (DNS rebinding).
    /// Each of these connects to the checked address only, with the name kept for the Host
    /// header, TLS SNI and certificate checks (its `dnsOverride`).
    private let pinnedClients = Mutex<[String: HTTPClient]>([:])
    /// Each host's passed check, for the rest of the build: one lookup per host, not one per
    /// image, and every image of a host goes to the same checked address. Failures are not kept.
    private let checkedHosts = Mutex<[String: String?]>([:])
    /// Name -> addresses (getaddrinfo; tests give their own, for names no DNS knows).
    private let resolve: @Sendable (String) -> [NetworkAddress]
    private let hosts: HostLimiters
    /// Exponential back-off starts here (then 2x, 4x, ... with jitter), always within the deadline.
    static let backoffBase: Double = 0.2

    init(settings: SiteConfig.ImageSettings, cacheDirectory: String, offline: Bool, logger: Logger,
         resolve: @escaping @Sendable (String) -> [NetworkAddress] = NetworkAddress.resolve) {
        self.resolve = resolve
        self.settings = settings
        self.cacheDirectory = cacheDirectory
        self.offline = offline
        self.logger = logger
        var configuration = HTTPClient.Configuration()
        configuration.timeout = .init(
            connect: .milliseconds(Int64(settings.connectTimeoutMs)), read: .milliseconds(Int64(settings.readTimeoutMs)))
        // Redirects are followed by hand, so that every hop's address is checked.
        configuration.redirectConfiguration = .disallow
        configuration.connectionPool.concurrentHTTP1ConnectionsPerHostSoftLimit = settings.perHostConcurrency
        configuration.decompression = .disabled
        self.configuration = configuration
        client = HTTPClient(eventLoopGroupProvider: .singleton, configuration: configuration)
        hosts = HostLimiters(limit: settings.perHostConcurrency)
    }

    func shutdown() async {
        try? await client.shutdown()
        for pinned in pinnedClients.withLock({ Array($0.values) }) { try? await pinned.shutdown() }
    }

    /// The client that connects `host` at `address` (nil: the host was allowed by name, or is an
    /// address itself, and AsyncHTTPClient may resolve it).
    private func client(for host: String, pinnedTo address: String?) -> HTTPClient {
        guard let address else { return client }
        let key = host + " " + address
        return pinnedClients.withLock { clients in
            if let existing = clients[key] { return existing }
            var configuration = self.configuration
            configuration.dnsOverride = [host: address]
            let made = HTTPClient(eventLoopGroupProvider: .singleton, configuration: configuration)
            clients[key] = made
            return made
        }
    }

    private func cachePaths(_ reference: String) -> (body: String, meta: String) {
        let digest = SHA256.hash(data: Data(reference.utf8)).map { String(format: "%02x", $0) }.joined()
        let base = cacheDirectory + "/" + digest
        return (base + ".body", base + ".json")
    }

    private func cached(_ reference: String) -> (bytes: [UInt8], meta: CacheMeta)? {
        let paths = cachePaths(reference)
        guard let body = FileManager.default.contents(atPath: paths.body),
              let metaData = FileManager.default.contents(atPath: paths.meta),
              let meta = try? JSONDecoder().decode(CacheMeta.self, from: metaData), meta.url == reference
        else { return nil }
        return ([UInt8](body), meta)
    }

    private func store(_ reference: String, bytes: [UInt8], etag: String?, lastModified: String?) {
        let paths = cachePaths(reference)
        let meta = CacheMeta(url: reference, etag: etag, lastModified: lastModified)
        do {
            try FileManager.default.createDirectory(atPath: cacheDirectory, withIntermediateDirectories: true)
            // The body first, then the meta that vouches for it: a crash between leaves no pair.
            try Data(bytes).write(to: URL(fileURLWithPath: paths.body), options: .atomic)
            try JSONEncoder().encode(meta).write(to: URL(fileURLWithPath: paths.meta), options: .atomic)
        } catch {
            logger.warning("cannot cache \(reference): \(error)")
        }
    }

    /// The cache files of every reference in `kept`; anything else in the cache folder is stale.
    func cacheFiles(for kept: [String]) -> Set<String> {
        var names = Set<String>()
        for reference in kept {
            let paths = cachePaths(reference)
            names.insert((paths.body as NSString).lastPathComponent)
            names.insert((paths.meta as NSString).lastPathComponent)
        }
        return names
    }

    func fetch(_ reference: String) async throws -> Fetched {
        guard let url = URL(string: reference), let scheme = url.scheme?.lowercased(), scheme == "http" || scheme == "https",
              let host = url.host, !host.isEmpty
        else { throw FetchFailure(message: "is not an http(s) URL", retryable: false) }
        let previous = cached(reference)
        if offline {
            if let previous { return Fetched(bytes: previous.bytes, stale: true) }
            throw FetchFailure(message: "is not in the image cache and the build is offline", retryable: false)
        }
        let deadline = NIODeadline.now() + .milliseconds(Int64(settings.deadlineMs))
        do {
            let checkedAddress = try await checkAddress(host: host)
            let limiter = await hosts.limiter(for: host.lowercased())
            return try await limiter.run {
                var lastFailure = FetchFailure(message: "no attempt was made", retryable: false)
                var redirects = 0
                var tries = 0
                var current = url
                var pin = checkedAddress
                while tries <= settings.retries {
                    if tries > 0 {
                        // Full jitter over an exponential window, so a recovering CDN is not hit in step.
                        let window = Self.backoffBase * pow(2, Double(tries - 1))
                        let delay = Double.random(in: window / 2...window)
                        let remaining = Double((deadline - .now()).nanoseconds) / 1e9
                        guard remaining > delay else { break }
                        try? await Task.sleep(nanoseconds: UInt64(delay * 1e9))
                    }
                    guard NIODeadline.now() < deadline else { break }
                    do {
                        switch try await requestWithinDeadline(url: current, pin: pin, previous: previous?.meta, deadline: deadline) {
                        case .body(let bytes, let etag, let lastModified):
                            store(reference, bytes: bytes, etag: etag, lastModified: lastModified)
                            return Fetched(bytes: bytes, stale: false)
                        case .notModified:
                            if let previous { return Fetched(bytes: previous.bytes, stale: false, revalidated: true) }
                            throw FetchFailure(message: "answered 304 Not Modified to an unconditional request", retryable: false)
                        case .redirect(let location):
                            redirects += 1
                            guard redirects <= 5 else { throw FetchFailure(message: "redirects more than 5 times", retryable: false) }
                            guard let next = URL(string: location, relativeTo: current)?.absoluteURL,
                                  let nextScheme = next.scheme?.lowercased(), nextScheme == "http" || nextScheme == "https",
                                  let nextHost = next.host
                            else { throw FetchFailure(message: "redirects to an unusable location \"\(location)\"", retryable: false) }
                            pin = try await checkAddress(host: nextHost)
                            current = next
                            continue  // a redirect is not a failed attempt
                        }
                    } catch let failure as FetchFailure {
                        lastFailure = failure
                        guard failure.retryable else { throw failure }
                    }
                    tries += 1
                }
                if lastFailure.message.contains("deadline") { throw lastFailure }
                if NIODeadline.now() >= deadline || lastFailure.message == "no attempt was made" {
                    throw FetchFailure(message: "gave up at the \(settings.deadlineMs) ms deadline (last: \(lastFailure.message))", retryable: true)
                }
                throw FetchFailure(message: "\(lastFailure.message) after \(settings.retries + 1) attempts", retryable: true)
            }
        } catch let failure as FetchFailure {
            // The origin failing is no reason to lose a picture we already have.
            if let previous, failure.retryable {
                logger.notice("\(reference): \(failure.message); using the cached copy")
                return Fetched(bytes: previous.bytes, stale: true)
            }
            throw failure
        } catch {
            throw FetchFailure(message: "\(error)", retryable: false)
        }
    }

    private enum Answer {
        case body([UInt8], etag: String?, lastModified: String?)
        case notModified
        case redirect(String)
    }

    /// The request raced against the deadline: a body that trickles in, a byte now and then,
    /// never trips the read timeout, so the deadline cancels it.
    private func requestWithinDeadline(url: URL, pin: String?, previous: CacheMeta?, deadline: NIODeadline) async throws -> Answer {
        try await withThrowingTaskGroup(of: Answer?.self) { group in
            group.addTask { try await self.request(url: url, pin: pin, previous: previous, deadline: deadline) }
            group.addTask {
                let remaining = (deadline - .now()).nanoseconds
                if remaining > 0 { try await Task.sleep(nanoseconds: UInt64(remaining)) }
                return nil
            }
            defer { group.cancelAll() }
            guard let first = try await group.next(), let answer = first else {
                throw FetchFailure(message: "did not finish by the \(settings.deadlineMs) ms deadline", retryable: true)
            }
            return answer
        }
    }

    private func request(url: URL, pin: String?, previous: CacheMeta?, deadline: NIODeadline) async throws -> Answer {
        do {
            // The body is gathered on the connection's event loop by a delegate, not by a loop in a
            // task: AsyncHTTPClient's read timeout runs while reads are paused for a consumer that has
            // not asked for more, so a task waiting for a CPU busy decoding other images (or, in the
            // tests, a busy suite) would turn a healthy download into "read timed out".
            var request = try HTTPClient.Request(url: url.absoluteString, method: .GET)
            request.headers.add(name: "User-Agent", value: "ishop-image-fetch")
            request.headers.add(name: "Accept", value: "image/jpeg, image/png, image/*;q=0.8")
            if let previous {
                if let etag = previous.etag { request.headers.add(name: "If-None-Match", value: etag) }
                if let lastModified = previous.lastModified { request.headers.add(name: "If-Modified-Since", value: lastModified) }
            }
            let accumulator = ResponseAccumulator(request: request, maxBodySize: settings.maxBytes)
            let task = client(for: request.host, pinnedTo: pin).execute(request: request, delegate: accumulator, deadline: deadline, logger: logger)
            let response = try await withTaskCancellationHandler {
                try await task.futureResult.get()
            } onCancel: {
                task.cancel()
            }
            let status = Int(response.status.code)
            switch status {
            case 200:
                let bytes = response.body.map { Array($0.readableBytesView) } ?? []
                return .body(bytes, etag: response.headers.first(name: "ETag"), lastModified: response.headers.first(name: "Last-Modified"))
            case 304:
                return .notModified
            case 301, 302, 303, 307, 308:
                guard let location = response.headers.first(name: "Location") else {
                    throw FetchFailure(message: "answered \(status) without a Location", retryable: false)
                }
                return .redirect(location)
            case 429, 500...599:
                throw FetchFailure(message: "answered HTTP \(status)", retryable: true)
            default:
                throw FetchFailure(message: "answered HTTP \(status)", retryable: false)
            }
        } catch is ResponseAccumulator.ResponseTooBigError {
            throw FetchFailure(message: "is more than the \(settings.maxBytes) bytes allowed (images.fetch.maxBytes)", retryable: false)
        } catch let failure as FetchFailure {
            throw failure
        } catch let error as HTTPClientError {
            let retryable = error != .cancelled
            throw FetchFailure(message: Self.describe(error), retryable: retryable)
        } catch {
            // Refused or reset connections, DNS hiccups: the network's problem, worth retrying.
            throw FetchFailure(message: "\(error)", retryable: true)
        }
    }

    static func describe(_ error: HTTPClientError) -> String {
        switch error {
        case .connectTimeout: "connect timed out"
        case .readTimeout: "read timed out"
        case .deadlineExceeded: "did not answer before the deadline"
        case .remoteConnectionClosed: "closed the connection"
        default: "\(error)"
        }
    }

    /// Refuses private, loopback, link-local and other non-public addresses, by name or by what
    /// the name resolves to, unless the host or address is listed in allowedPrivateHosts.
    /// Returns the address the request must connect to (see `pinnedClients`), or nil when the
    /// name itself is allowed or is an address.
    private func checkAddress(host: String) async throws -> String? {
        let allowed = Set(settings.allowedPrivateHosts.map { $0.lowercased() })
        let name = host.lowercased().trimmingCharacters(in: CharacterSet(charactersIn: "[]"))
        if allowed.contains(name) { return nil }
        if let known = checkedHosts.withLock({ $0[name] }) { return known }
        let resolve = self.resolve
        let addresses = await withCheckedContinuation { (continuation: CheckedContinuation<[NetworkAddress], Never>) in
            DispatchQueue.global().async { continuation.resume(returning: resolve(name)) }
        }
        guard !addresses.isEmpty else { throw FetchFailure(message: "host \(host) cannot be resolved", retryable: true) }
        for address in addresses where !address.isPublic && !allowed.contains(address.text) {
            throw FetchFailure(
                message: "refused: \(host) is a private, loopback or link-local address (\(address.text)); list it in images.fetch.allowedPrivateHosts to allow it",
                retryable: false)
        }
        let pin = addresses.count == 1 && addresses[0].text == name ? nil : Self.pinnedAddress(addresses)
        checkedHosts.withLock { $0[name] = .some(pin) }
        return pin
    }

    /// Of the checked addresses, the one to connect to: the first IPv4 one if there is one (a
    /// machine without an IPv6 route would fail on an IPv6 address getaddrinfo listed first, and
    /// pinning takes away AsyncHTTPClient's fallback between them), else the first.
    static func pinnedAddress(_ addresses: [NetworkAddress]) -> String? {
        (addresses.first { $0.bytes.count == 4 } ?? addresses.first)?.text
    }
}
