import Foundation
import Glibc
import Synchronization

/// A stock message as a client sees it.
public struct StockMessageBody: Decodable, Equatable, Sendable {
    public let type: String
    public let sku: String
    public let stock: Int
    public let seq: Int64
}

/// A WebSocket client on /ws/stock, with a reader thread of its own: it records every stock
/// message and how the connection ended.
///
/// Not hummingbird-websocket's client: that one always sends `Origin: ws://host`, which the
/// runtime rightly refuses (not an origin of the allowlist). This one sends the Origin it is
/// given, or none, as a non-browser client does.
public final class StockFeed: Sendable {
    private struct State {
        var messages: [StockMessageBody] = []
        var other: [String] = []
        var ended = false
        var closeCode: Int?
        var failure: String?
        var fd: Int32 = -1
    }

    private let state = Mutex(State())
    private let done = Mutex<[CheckedContinuation<Void, Never>]>([])

    /// Opens /ws/stock on 127.0.0.1:`port` with the query, sends `subscribe` first when given.
    public static func open(port: Int, query: String = "", subscribe: [String]? = nil, origin: String? = nil) -> StockFeed {
        let feed = StockFeed()
        let thread = Thread {
            feed.run(port: port, path: "/ws/stock\(query)", subscribe: subscribe, origin: origin)
        }
        thread.start()
        return feed
    }

    private func run(port: Int, path: String, subscribe: [String]?, origin: String?) {
        defer { finish() }
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { return fail("socket") }
        state.withLock { $0.fd = fd }
        guard RawSocket.connectLoopback(fd, port: port) == 0 else { return fail("connect: \(errno)") }
        var request = "GET \(path) HTTP/1.1\r\nHost: 127.0.0.1:\(port)\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
        request += "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n"
        if let origin { request += "Origin: \(origin)\r\n" }
        guard write(fd, Array((request + "\r\n").utf8)) else { return fail("write") }
        var head: [UInt8] = []
        while !(head.count >= 4 && Array(head.suffix(4)) == Array("\r\n\r\n".utf8)) {
            guard let byte = read(fd, 1) else { return fail("no handshake answer") }
            head += byte
        }
        let status = String(decoding: head, as: UTF8.self)
        guard status.hasPrefix("HTTP/1.1 101") else { return fail(String(status.prefix(40))) }
        if let subscribe {
            let body = (try? JSONSerialization.data(withJSONObject: ["subscribe": subscribe])) ?? Data()
            guard write(fd, Self.frame(opcode: 0x1, payload: Array(body))) else { return fail("write") }
        }
        while let header = read(fd, 2) {
            let opcode = header[0] & 0x0F
            var length = Int(header[1] & 0x7F)
            if length == 126 {
                guard let extended = read(fd, 2) else { return }
                length = Int(extended[0]) << 8 | Int(extended[1])
            } else if length == 127 {
                guard let extended = read(fd, 8) else { return }
                length = extended.reduce(0) { $0 << 8 | Int($1) }
            }
            guard let payload = length == 0 ? [] : read(fd, length) else { return }
            switch opcode {
            case 0x1: record(String(decoding: payload, as: UTF8.self))
            case 0x8:
                state.withLock { $0.closeCode = payload.count >= 2 ? Int(payload[0]) << 8 | Int(payload[1]) : 1005 }
                _ = write(fd, Self.frame(opcode: 0x8, payload: Array(payload.prefix(2))))
                return
            case 0x9: _ = write(fd, Self.frame(opcode: 0xA, payload: payload))
            default: break
            }
        }
    }

    private func fail(_ why: String) {
        state.withLock { $0.failure = why }
    }

    private func finish() {
        let waiting = state.withLock { state -> Int32 in
            state.ended = true
            defer { state.fd = -1 }
            return state.fd
        }
        if waiting >= 0 { Glibc.close(waiting) }
        let continuations = done.withLock { list -> [CheckedContinuation<Void, Never>] in
            defer { list.removeAll() }
            return list
        }
        for continuation in continuations { continuation.resume() }
    }

    private func write(_ fd: Int32, _ bytes: [UInt8]) -> Bool {
        var offset = 0
        while offset < bytes.count {
            let sent = bytes[offset...].withUnsafeBytes { Glibc.send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
            if sent <= 0 { return false }
            offset += sent
        }
        return true
    }

    /// Exactly `count` bytes, or nil when the connection ended.
    private func read(_ fd: Int32, _ count: Int) -> [UInt8]? {
        var bytes = [UInt8](repeating: 0, count: count)
        var got = 0
        while got < count {
            let n = bytes.withUnsafeMutableBytes { recv(fd, $0.baseAddress! + got, count - got, 0) }
            if n <= 0 { return nil }
            got += n
        }
        return bytes
    }

    /// A masked client frame (RFC 6455 §5.2).
    /// A client frame: masked (as RFC 6455 requires of clients) unless `masked` is false, the
    /// last of its message unless `fin` is false.
    public static func frame(opcode: UInt8, payload: [UInt8], fin: Bool = true, masked: Bool = true) -> [UInt8] {
        var bytes: [UInt8] = [(fin ? 0x80 : 0) | opcode]
        let mask: [UInt8] = masked ? [0x11, 0x22, 0x33, 0x44] : [0, 0, 0, 0]
        let maskBit: UInt8 = masked ? 0x80 : 0
        if payload.count < 126 {
            bytes.append(maskBit | UInt8(payload.count))
        } else if payload.count <= 0xFFFF {
            bytes += [maskBit | 126, UInt8(payload.count >> 8), UInt8(payload.count & 0xFF)]
        } else {
            bytes.append(maskBit | 127)
            for shift in stride(from: 56, through: 0, by: -8) { bytes.append(UInt8((payload.count >> shift) & 0xFF)) }
        }
        if masked { bytes += mask }
        for (index, byte) in payload.enumerated() { bytes.append(byte ^ mask[index % 4]) }
        return bytes
    }

    private func record(_ text: String) {
        if let message = try? JSONDecoder().decode(StockMessageBody.self, from: Data(text.utf8)), message.type == "stock" {
            state.withLock { $0.messages.append(message) }
        } else {
            state.withLock { $0.other.append(text) }
        }
    }

    public var messages: [StockMessageBody] { state.withLock { $0.messages } }
    public var otherMessages: [String] { state.withLock { $0.other } }
    public var ended: Bool { state.withLock { $0.ended } }
    public var closeCode: Int? { state.withLock { $0.closeCode } }
    /// Why the client could not connect or failed, if it did.
    public var failure: String? { state.withLock { $0.failure } }

    /// The newest value received per SKU.
    public var latest: [String: Int] {
        var values: [String: Int] = [:]
        for message in messages { values[message.sku] = message.stock }
        return values
    }

    public var lastSeq: Int64? { messages.map(\.seq).max() }

    /// Seq never goes backwards on one connection.
    public var seqNeverDecreases: Bool { zip(messages, messages.dropFirst()).allSatisfy { $0.seq <= $1.seq } }

    /// Ends the connection from this side (the reader thread then finishes).
    public func close() {
        let fd = state.withLock { $0.fd }
        if fd >= 0 { shutdown(fd, Int32(SHUT_RDWR)) }
    }

    public func waitUntilEnded() async {
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            let endedAlready = state.withLock { $0.ended }
            if endedAlready {
                continuation.resume()
                return
            }
            done.withLock { $0.append(continuation) }
            // It may have ended in between: finish() resumes what it finds, so look again.
            if state.withLock({ $0.ended }) {
                let continuations = done.withLock { list -> [CheckedContinuation<Void, Never>] in
                    defer { list.removeAll() }
                    return list
                }
                for each in continuations { each.resume() }
            }
        }
    }
}

/// Waits for a condition that the system under test makes true by itself: polls it, and gives up
/// (returning false) only after a generous bound, so a broken feature fails instead of hanging.
public func eventually(_ what: String = "", tries: Int = 3000, _ condition: () async throws -> Bool) async rethrows -> Bool {
    for _ in 0..<tries {
        if try await condition() { return true }
        try? await Task.sleep(for: .milliseconds(10))
    }
    return false
}

