import Foundation
import Synchronization

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

struct FanoutError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}

/// Blocking sockets for the few connections that are not fan-out clients: the admin's HTTP
/// connection (so the time taken just before a PATCH is written is not spent waiting for an
/// event loop that is busy receiving) and the slow clients, which never read.
enum Net {
    static func connect(host: String, port: Int, receiveBuffer: Int? = nil, noDelay: Bool = false) throws -> Int32 {
        var hints = addrinfo()
        hints.ai_family = AF_UNSPEC
        #if canImport(Glibc)
        hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
        #else
        hints.ai_socktype = SOCK_STREAM
        #endif
        var list: UnsafeMutablePointer<addrinfo>?
        let rc = getaddrinfo(host, String(port), &hints, &list)
        guard rc == 0, let first = list else { throw FanoutError("cannot resolve \(host): \(String(cString: gai_strerror(rc)))") }
        defer { freeaddrinfo(list) }
        var lastError = "no address"
        var entry: UnsafeMutablePointer<addrinfo>? = first
        while let ai = entry {
            entry = ai.pointee.ai_next
            let fd = socket(ai.pointee.ai_family, ai.pointee.ai_socktype, ai.pointee.ai_protocol)
            if fd < 0 {
                lastError = String(cString: strerror(errno))
                continue
            }
            if let receiveBuffer {
                var size = Int32(receiveBuffer)
                setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &size, socklen_t(MemoryLayout<Int32>.size))
            }
            if noDelay {
                var one: Int32 = 1
                setsockopt(fd, Int32(IPPROTO_TCP), TCP_NODELAY, &one, socklen_t(MemoryLayout<Int32>.size))
            }
            if Glibc.connect(fd, ai.pointee.ai_addr, ai.pointee.ai_addrlen) == 0 { return fd }
            lastError = String(cString: strerror(errno))
            close(fd)
        }
        throw FanoutError("cannot connect to \(host):\(port): \(lastError)")
    }

    static func sendAll(_ fd: Int32, _ bytes: [UInt8]) throws {
        var offset = 0
        while offset < bytes.count {
            let n = bytes.withUnsafeBytes { send(fd, $0.baseAddress! + offset, bytes.count - offset, Int32(MSG_NOSIGNAL)) }
            if n < 0 {
                if errno == EINTR { continue }
                throw FanoutError("send: \(String(cString: strerror(errno)))")
            }
            offset += n
        }
    }

    /// Reads into `buffer` until it holds `\r\n\r\n`; returns the index just after it.
    static func readHead(_ fd: Int32, into buffer: inout [UInt8]) throws -> Int {
        var chunk = [UInt8](repeating: 0, count: 4096)
        while true {
            if let end = headEnd(buffer) { return end }
            let n = chunk.withUnsafeMutableBytes { recv(fd, $0.baseAddress!, $0.count, 0) }
            if n < 0 {
                if errno == EINTR { continue }
                throw FanoutError("recv: \(String(cString: strerror(errno)))")
            }
            if n == 0 { throw FanoutError("connection closed by the server") }
            buffer.append(contentsOf: chunk[0..<n])
        }
    }

    static func headEnd(_ bytes: [UInt8]) -> Int? {
        guard bytes.count >= 4 else { return nil }
        for i in 0...(bytes.count - 4) where bytes[i] == 13 && bytes[i + 1] == 10 && bytes[i + 2] == 13 && bytes[i + 3] == 10 {
            return i + 4
        }
        return nil
    }
}

/// A keep-alive HTTP/1.1 client on one blocking socket (JSON bodies, Content-Length), as the
/// Python client's `Http`.
final class BlockingHTTP {
    let host: String
    let port: Int
    let hostHeader: String
    private var fd: Int32 = -1
    private var buffer: [UInt8] = []

    init(host: String, port: Int, hostHeader: String) {
        self.host = host
        self.port = port
        self.hostHeader = hostHeader
    }

    deinit { if fd >= 0 { close(fd) } }

    /// Opens the connection ahead of time, so the first PATCH's time is not a connect's.
    func open() throws {
        if fd < 0 { fd = try Net.connect(host: host, port: port, noDelay: true) }
    }

    /// A new connection: the one the login used may have been closed meanwhile by the server's
    /// keep-alive timeout (uvicorn's is 5 s, and connecting 10,000 clients takes longer).
    func reopen() throws {
        if fd >= 0 { close(fd) }
        fd = -1
        buffer = []
        try open()
    }

    func request(method: String, path: String, body: [UInt8]?, headers: [(String, String)] = []) throws -> (status: Int, body: [UInt8]) {
        try open()
        var head = "\(method) \(path) HTTP/1.1\r\nHost: \(hostHeader)\r\nContent-Length: \(body?.count ?? 0)\r\n"
        if body != nil { head += "Content-Type: application/json\r\n" }
        for (name, value) in headers { head += "\(name): \(value)\r\n" }
        head += "\r\n"
        try Net.sendAll(fd, Array(head.utf8) + (body ?? []))
        let end = try Net.readHead(fd, into: &buffer)
        let text = String(decoding: buffer[0..<end], as: UTF8.self)
        let lines = text.split(separator: "\r\n")
        let statusParts = lines.first?.split(separator: " ") ?? []
        guard statusParts.count >= 2, let status = Int(statusParts[1]) else { throw FanoutError("bad status line: \(lines.first ?? "")") }
        var length = 0
        var closeAfter = false
        for line in lines.dropFirst() {
            guard let colon = line.firstIndex(of: ":") else { continue }
            let name = line[..<colon].trimmingCharacters(in: .whitespaces).lowercased()
            let value = line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces)
            if name == "content-length" { length = Int(value) ?? 0 }
            if name == "connection", value.lowercased() == "close" { closeAfter = true }
        }
        buffer.removeFirst(end)
        var chunk = [UInt8](repeating: 0, count: 16384)
        while buffer.count < length {
            let n = chunk.withUnsafeMutableBytes { recv(fd, $0.baseAddress!, $0.count, 0) }
            if n < 0, errno == EINTR { continue }
            if n <= 0 { throw FanoutError("connection closed in a response body") }
            buffer.append(contentsOf: chunk[0..<n])
        }
        let payload = Array(buffer[0..<length])
        buffer.removeFirst(length)
        if closeAfter {
            close(fd)
            fd = -1
            buffer = []
        }
        return (status, payload)
    }
}

/// A client that completes the WebSocket handshake on a socket with a 4 KiB receive buffer and
/// then never reads, so the server's buffers for it fill up.
final class SlowClient {
    let fd: Int32

    init(host: String, port: Int, hostHeader: String, path: String, origin: String?) throws {
        fd = try Net.connect(host: host, port: port, receiveBuffer: 4096)
        let key = Data((0..<16).map { _ in UInt8.random(in: 0...255) }).base64EncodedString()
        var request = "GET \(path) HTTP/1.1\r\nHost: \(hostHeader)\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
            + "Sec-WebSocket-Key: \(key)\r\nSec-WebSocket-Version: 13\r\n"
        if let origin { request += "Origin: \(origin)\r\n" }
        request += "\r\n"
        do {
            try Net.sendAll(fd, Array(request.utf8))
            var buffer: [UInt8] = []
            let end = try Net.readHead(fd, into: &buffer)
            let statusLine = String(decoding: buffer[0..<end], as: UTF8.self).split(separator: "\r\n").first ?? ""
            guard statusLine.contains(" 101 ") else { throw FanoutError("slow client handshake failed: \(statusLine.prefix(80))") }
        } catch {
            close(fd)
            throw error
        }
    }

    /// Reads whatever is there until the server's end of stream (the server dropped this
    /// client) or half a second without data. A reset also counts as dropped (the Python client
    /// leaves resets out of its count; a server that resets the connection has dropped it all the
    /// same).
    func finish() -> (dropped: Bool, bytes: Int) {
        var timeout = timeval(tv_sec: 0, tv_usec: 500_000)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        var chunk = [UInt8](repeating: 0, count: 1 << 16)
        var bytes = 0
        var dropped = false
        while true {
            let n = chunk.withUnsafeMutableBytes { recv(fd, $0.baseAddress!, $0.count, 0) }
            if n > 0 {
                bytes += n
                continue
            }
            if n == 0 {
                dropped = true
            } else if errno == EINTR {
                continue
            } else if errno == ECONNRESET {
                dropped = true
            }
            break
        }
        close(fd)
        return (dropped, bytes)
    }
}

/// rss_sample.py's Sampler: the sum of VmRSS over the process tree of `pid` (children found
/// through /proc/PID/task/*/children), its peak over the samples, and the sum of VmHWM.
final class RSSSampler: Sendable {
    private struct State {
        var startKB = 0, peakKB = 0, endKB = 0, procs = 0, samples = 1, hwmKB = 0
    }

    let pid: Int32
    private let state: Mutex<State>
    private let stopped = Atomic<Bool>(false)

    init(pid: Int32) {
        self.pid = pid
        let (n, rss, hwm) = Self.snapshot(pid)
        state = Mutex(State(startKB: rss, peakKB: rss, endKB: rss, procs: n, samples: 1, hwmKB: hwm))
    }

    @discardableResult
    func sample() -> Bool {
        let (n, rss, hwm) = Self.snapshot(pid)
        if n == 0 { return false }
        state.withLock { s in
            s.samples += 1
            s.procs = n
            s.endKB = rss
            s.hwmKB = hwm
            s.peakKB = max(s.peakKB, rss)
        }
        return true
    }

    func line() -> String {
        state.withLock { s in
            "RSS pid=\(pid) procs=\(s.procs) samples=\(s.samples) start_kb=\(s.startKB) end_kb=\(s.endKB) "
                + "peak_sum_rss_kb=\(s.peakKB) sum_hwm_kb=\(s.hwmKB)"
        }
    }

    /// Samples every 0.1 s on its own thread (not on an event loop) until `stop()`.
    func startSampling() {
        Thread.detachNewThread { [self] in
            while !self.stopped.load(ordering: .relaxed), self.sample() {
                usleep(100_000)
            }
        }
    }

    func stop() { stopped.store(true, ordering: .relaxed) }

    static func readFile(_ path: String) -> String? {
        let fd = open(path, O_RDONLY)
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        var out: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 4096)
        while true {
            let n = chunk.withUnsafeMutableBytes { read(fd, $0.baseAddress!, $0.count) }
            if n < 0, errno == EINTR { continue }
            if n <= 0 { break }
            out.append(contentsOf: chunk[0..<n])
        }
        return String(decoding: out, as: UTF8.self)
    }

    static func tree(_ pid: Int32) -> [Int32] {
        var out: [Int32] = []
        var todo = [pid]
        while let p = todo.popLast() {
            guard access("/proc/\(p)", F_OK) == 0 else { continue }
            out.append(p)
            let tasks = (try? FileManager.default.contentsOfDirectory(atPath: "/proc/\(p)/task")) ?? []
            for tid in tasks {
                if let text = readFile("/proc/\(p)/task/\(tid)/children") {
                    todo.append(contentsOf: text.split(separator: " ").compactMap { Int32($0.trimmingCharacters(in: .whitespacesAndNewlines)) })
                }
            }
        }
        return out
    }

    static func statusKB(_ pid: Int32, _ field: String) -> Int {
        guard let text = readFile("/proc/\(pid)/status") else { return 0 }
        for line in text.split(separator: "\n") where line.hasPrefix(field + ":") {
            let parts = line.split(whereSeparator: { $0 == " " || $0 == "\t" })
            if parts.count >= 2, let kb = Int(parts[1].trimmingCharacters(in: .whitespaces)) { return kb }
        }
        return 0
    }

    static func snapshot(_ pid: Int32) -> (Int, Int, Int) {
        let procs = tree(pid)
        return (procs.count, procs.reduce(0) { $0 + statusKB($1, "VmRSS") }, procs.reduce(0) { $0 + statusKB($1, "VmHWM") })
    }
}
