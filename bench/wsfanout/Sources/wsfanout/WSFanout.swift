import ArgumentParser
import Foundation
import NIOCore
import NIOPosix
import NIOWebSocket

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// WebSocket fan-out test for the ishop contract (shared/API.md, /ws/stock): the Swift/NIO twin of
/// ../shared/bench/load/ws_fanout.py, with the same options and the same output lines.
///
/// Opens C WebSocket clients to BASE/ws/stock, then sends K admin stock updates (PATCH
/// /api/admin/variants/{sku} with a unique stock value each) and measures, for every update and
/// every client, the time from just before the PATCH is written to the moment the client's
/// channel handler gets the matching {"type":"stock",...} message (monotonic clock, taken on the
/// event loop). Reports p50/p99/max delivery latency, lost, duplicated and out-of-order (seq not
/// strictly increasing) messages, and the server's RSS (from /proc/PID/status, with --pid).
@main
struct WSFanout: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "wsfanout",
        abstract: "WebSocket fan-out test for /ws/stock (Swift/NIO twin of ws_fanout.py).")

    @Option(help: "Base URL of the server (loopback only).") var base: String
    @Option(help: "EMAIL:PASSWORD of an admin user.") var admin: String
    @Option(help: "Comma list of SKUs to update in turn.") var skus: String
    @Option var clients = 1000
    @Option var updates = 50
    @Option(help: "Seconds between PATCHes.") var interval = 0.2
    @Option(help: "Extra clients that never read.") var slow = 0
    @Option var origin = "http://localhost:8000"
    @Flag(name: .customLong("no-subscribe"), help: "Do not send a subscribe message (receive every SKU).")
    var noSubscribe = false
    @Option(name: .customLong("connect-concurrency")) var connectConcurrency = 100
    @Option(help: "Seconds to wait for every update to reach every client.") var drain = 10.0
    @Option(help: "Server PID whose process tree's RSS is sampled.") var pid: Int32?
    @Option(help: "Seconds to hold every connection open, idle, before RSS_CONNECTED is taken and the updates start (the many-connections test).")
    var hold = 0.0
    @Option(help: "Event loop threads (default: every core).") var threads = System.coreCount

    mutating func run() throws {
        guard let url = URLComponents(string: base), let host = url.host, !host.isEmpty else {
            throw ValidationError("bad --base \(base)")
        }
        let port = url.port ?? 80
        guard host.hasPrefix("127.") || host == "localhost" || host == "::1" || host == "[::1]" else {
            throw ValidationError("refusing non-loopback target")
        }
        let bareHost = host.trimmingCharacters(in: CharacterSet(charactersIn: "[]"))
        let hostHeader = bareHost.contains(":") ? "[\(bareHost)]:\(port)" : "\(bareHost):\(port)"
        let skuList = skus.split(separator: ",").map(String.init).filter { !$0.isEmpty }
        guard !skuList.isEmpty else { throw ValidationError("--skus names no SKU") }
        let subscribe = !noSubscribe
        raiseFileLimit(to: clients + slow + 64)

        // ---- admin login
        let http = BlockingHTTP(host: bareHost, port: port, hostHeader: hostHeader)
        let (email, password) = admin.firstIndex(of: ":").map { (String(admin[..<$0]), String(admin[admin.index(after: $0)...])) }
            ?? (admin, "")
        let loginBody = try JSONSerialization.data(withJSONObject: ["email": email, "password": password])
        let login = try http.request(method: "POST", path: "/api/auth/login", body: Array(loginBody))
        guard login.status == 200,
              let object = try? JSONSerialization.jsonObject(with: Data(login.body)) as? [String: Any],
              let token = object["access_token"] as? String
        else {
            throw FanoutError("admin login failed: \(login.status) \(String(decoding: login.body.prefix(200), as: UTF8.self))")
        }
        let auth = [("Authorization", "Bearer " + token)]

        let sampler = pid.map { RSSSampler(pid: $0) }
        let idleLine = sampler?.line()
        sampler?.startSampling()

        // ---- connect C clients (bounded concurrency)
        let group = MultiThreadedEventLoopGroup(numberOfThreads: max(1, threads))
        defer { try? group.syncShutdownGracefully() }
        let progress = Progress(want: updates)
        let target = Target(host: bareHost, port: port, hostHeader: hostHeader, path: "/ws/stock", origin: origin.isEmpty ? nil : origin)
        let subscribeText: String? = subscribe ? Self.subscribeMessage(skuList) : nil
        let gate = DispatchSemaphore(value: max(1, connectConcurrency))
        var pending: [EventLoopFuture<FanoutClient>] = []
        pending.reserveCapacity(clients)
        let tConnect = monotonicNanos()
        for _ in 0..<clients {
            gate.wait()
            let future = Connector.open(group: group, target: target, progress: progress, subscribe: subscribeText, expected: updates)
            future.whenComplete { _ in gate.signal() }
            pending.append(future)
        }
        var conns: [FanoutClient?] = []
        var failures: [String] = []
        for future in pending {
            do {
                conns.append(try future.wait())
            } catch {
                conns.append(nil)
                failures.append("\(error)")
            }
        }
        let connectSeconds = Double(monotonicNanos() - tConnect) / 1e9
        if let first = failures.first {
            FileHandle.standardError.write(Data("WARN \(failures.count) clients failed to connect: \(first)\n".utf8))
        }

        var slowClients: [SlowClient] = []
        for _ in 0..<slow {
            slowClients.append(try SlowClient(host: bareHost, port: port, hostHeader: hostHeader, path: "/ws/stock", origin: target.origin))
        }
        usleep(1_000_000)  // let subscriptions land
        if hold > 0 { usleep(useconds_t(hold * 1_000_000)) }
        sampler?.sample()
        let connectedLine = sampler?.line()

        // ---- K updates on a fixed schedule; unique stock values identify the update
        try http.reopen()
        let baseValue = Int64.random(in: 1_000_000...9_000_000)
        var tSend: [UInt64] = []
        var patchMs: [Double] = []
        let t0 = monotonicNanos()
        let step = UInt64(interval * 1e9)
        for k in 0..<updates {
            let due = t0 + UInt64(k) * step
            let now = monotonicNanos()
            if due > now { sleepNanos(due - now) }
            let sku = skuList[k % skuList.count]
            let body = Array("{\"stock\": \(baseValue + Int64(k))}".utf8)
            let ts = monotonicNanos()
            tSend.append(ts)
            let answer = try http.request(method: "PATCH", path: "/api/admin/variants/" + Self.quote(sku), body: body, headers: auth)
            patchMs.append(Double(monotonicNanos() - ts) / 1e6)
            guard answer.status == 200 else {
                throw FanoutError("PATCH \(sku) -> \(answer.status) \(String(decoding: answer.body.prefix(200), as: UTF8.self))")
            }
        }
        let sendSpan = Double(monotonicNanos() - t0) / 1e9

        // ---- drain: wait until every client has every update, or --drain seconds
        let okClients = conns.compactMap { $0 }
        let deadline = monotonicNanos() + UInt64(drain * 1e9)
        while monotonicNanos() < deadline {
            if progress.complete.load(ordering: .relaxed) >= okClients.count { break }
            usleep(50_000)
        }

        // slow clients: did the server drop them? (read what is there, look for the end)
        var slowDropped = 0
        var slowBytes = 0
        for client in slowClients {
            let (dropped, bytes) = client.finish()
            if dropped { slowDropped += 1 }
            slowBytes += bytes
        }

        sampler?.stop()
        let closedByServer = okClients.filter { $0.inbox.closedByServer.load(ordering: .relaxed) }.count
        var closing: [EventLoopFuture<Void>] = []
        for client in okClients {
            let channel = client.channel
            let goodbye = channel.eventLoop.flatSubmit { () -> EventLoopFuture<Void> in
                guard channel.isActive else { return channel.eventLoop.makeSucceededVoidFuture() }
                var code = channel.allocator.buffer(capacity: 2)
                code.write(webSocketErrorCode: .normalClosure)
                let frame = WebSocketFrame(fin: true, opcode: .connectionClose, maskKey: .random(), data: code)
                return channel.writeAndFlush(frame).flatMap { channel.close() }
            }
            closing.append(goodbye.flatMapErrorWithEventLoop { _, loop in loop.makeSucceededVoidFuture() })
        }
        for future in closing { try? future.wait() }
        if closedByServer > 0 {
            FileHandle.standardError.write(Data("WARN \(closedByServer) clients were closed by the server during the run\n".utf8))
        }

        // ---- analysis (as ws_fanout.py)
        var latencies: [Double] = []
        latencies.reserveCapacity(okClients.count * updates)
        var perUpdateLast = [Double](repeating: 0, count: updates)
        var lost = 0, duplicates = 0, outOfOrder = 0, other = 0
        for client in okClients {
            let messages = client.inbox.messages.withLock { $0 }
            var got = [Bool](repeating: false, count: updates)
            var gotCount = 0
            var lastSeq = Int64.min
            for message in messages {
                guard let fields = message.fields, fields.isStock else {
                    other += 1
                    continue
                }
                let k = (fields.stock ?? -1) - baseValue
                guard (0..<Int64(updates)).contains(k), let seq = fields.seq else {
                    other += 1
                    continue
                }
                if seq <= lastSeq { outOfOrder += 1 }
                lastSeq = max(lastSeq, seq)
                if got[Int(k)] {
                    duplicates += 1
                    continue
                }
                got[Int(k)] = true
                gotCount += 1
                let d = Double(Int64(bitPattern: message.nanos &- tSend[Int(k)])) / 1e6
                latencies.append(d)
                perUpdateLast[Int(k)] = max(perUpdateLast[Int(k)], d)
            }
            lost += updates - gotCount
        }
        latencies.sort()
        let sortedLast = perUpdateLast.sorted()

        var first = "WS clients=\(clients) connected=\(okClients.count) slow=\(slow) updates=\(updates) interval_s=\(interval) "
            + "subscribe=\(subscribe ? "True" : "False") connect_s=\(f2(connectSeconds)) send_span_s=\(f2(sendSpan))"
        if hold > 0 { first += " hold_s=\(hold)" }
        print(first)
        print("WS_RESULT deliveries=\(latencies.count) expected=\(okClients.count * updates) lost=\(lost) "
            + "duplicates=\(duplicates) out_of_order=\(outOfOrder) unexpected=\(other) "
            + "p50_ms=\(f2(Self.pct(latencies, 50))) p99_ms=\(f2(Self.pct(latencies, 99))) "
            + "max_ms=\(f2(latencies.last ?? .nan)) "
            + "fanout_complete_p50_ms=\(f2(Self.pct(sortedLast, 50))) "
            + "fanout_complete_max_ms=\(f2(sortedLast.last ?? .nan)) "
            + "patch_p50_ms=\(f2(Self.median(patchMs)))")
        if slow > 0 {
            print("WS_SLOW slow_clients=\(slow) dropped_by_server=\(slowDropped) bytes_pending_read_at_end=\(slowBytes)")
        }
        if let sampler, let idleLine, let connectedLine {
            print(idleLine.replacingFirst("RSS", with: "RSS_BEFORE_CLIENTS"))
            print(connectedLine.replacingFirst("RSS", with: "RSS_CONNECTED"))
            print(sampler.line().replacingFirst("RSS", with: "RSS_RUN"))
        }
    }

    /// ws_fanout.py's pct: values sorted; index round(p/100*n + 0.5) - 1 with Python's rounding
    /// (half to even).
    static func pct(_ sorted: [Double], _ p: Double) -> Double {
        guard !sorted.isEmpty else { return .nan }
        let r = Int((p / 100 * Double(sorted.count) + 0.5).rounded(.toNearestOrEven))
        return sorted[max(0, min(sorted.count - 1, r - 1))]
    }

    /// statistics.median.
    static func median(_ values: [Double]) -> Double {
        guard !values.isEmpty else { return .nan }
        let s = values.sorted()
        return s.count % 2 == 1 ? s[s.count / 2] : (s[s.count / 2 - 1] + s[s.count / 2]) / 2
    }

    static func subscribeMessage(_ skus: [String]) -> String {
        let data = (try? JSONSerialization.data(withJSONObject: ["subscribe": skus])) ?? Data("{\"subscribe\":[]}".utf8)
        return String(decoding: data, as: UTF8.self)
    }

    /// urllib.parse.quote(sku): everything but letters, digits, "_.-~" and "/" percent-encoded.
    static func quote(_ text: String) -> String {
        var out = ""
        for byte in text.utf8 {
            switch byte {
            case UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "0")...UInt8(ascii: "9"),
                 UInt8(ascii: "_"), UInt8(ascii: "."), UInt8(ascii: "-"), UInt8(ascii: "~"), UInt8(ascii: "/"):
                out.unicodeScalars.append(Unicode.Scalar(byte))
            default:
                out += String(format: "%%%02X", byte)
            }
        }
        return out
    }

    func raiseFileLimit(to need: Int) {
        var limit = rlimit()
        #if canImport(Glibc)
        let resource = __rlimit_resource_t(RLIMIT_NOFILE.rawValue)
        #else
        let resource = RLIMIT_NOFILE
        #endif
        guard getrlimit(resource, &limit) == 0, limit.rlim_cur < rlim_t(need) else { return }
        limit.rlim_cur = min(max(rlim_t(need), limit.rlim_cur), limit.rlim_max)
        _ = setrlimit(resource, &limit)
    }
}

func sleepNanos(_ nanos: UInt64) {
    var request = timespec(tv_sec: Int(nanos / 1_000_000_000), tv_nsec: Int(nanos % 1_000_000_000))
    var remaining = timespec()
    while nanosleep(&request, &remaining) != 0, errno == EINTR { request = remaining }
}

/// Python's f"{x:.2f}" (nan as "nan").
func f2(_ value: Double) -> String {
    value.isNaN ? "nan" : String(format: "%.2f", value)
}

extension String {
    func replacingFirst(_ target: String, with replacement: String) -> String {
        guard let range = range(of: target) else { return self }
        return replacingCharacters(in: range, with: replacement)
    }
}
