import Foundation
import Glibc

/// A raw TCP client for what a well-behaved WebSocket client never does: a handshake that must be
/// refused, a frame over the limit, a client that stops reading.
public final class RawSocket {
    public let fd: Int32

    /// `receiveBuffer`: SO_RCVBUF, set before connecting (a client that will stop reading).
    public init(port: Int, receiveBuffer: Int32? = nil) throws {
        fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw POSIXError(.EBADF) }
        if var size = receiveBuffer {
            setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &size, socklen_t(MemoryLayout<Int32>.size))
        }
        guard Self.connectLoopback(fd, port: port) == 0 else {
            Glibc.close(fd)
            throw POSIXError(.ECONNREFUSED)
        }
        // Non-blocking: a read waits with Task.sleep, never by blocking one of the few threads of
        // the concurrency pool (on two cores, two blocked reads would stall the server under test).
        _ = fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK)
    }

    deinit { Glibc.close(fd) }

    public func send(_ bytes: [UInt8]) {
        var offset = 0
        var stalls = 0
        while offset < bytes.count {
            let sent = bytes[offset...].withUnsafeBytes { Glibc.send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
            if sent > 0 {
                offset += sent
            } else if errno == EAGAIN && stalls < 1000 {
                stalls += 1
                usleep(1000)
            } else {
                return
            }
        }
    }

    public func send(_ text: String) { send(Array(text.utf8)) }

    /// What has arrived, at most `count` bytes, once something has (or the peer closed, or a
    /// generous bound passed: then empty).
    public func read(atMost count: Int) async -> [UInt8] {
        var buffer = [UInt8](repeating: 0, count: count)
        for _ in 0..<3000 {
            let got = buffer.withUnsafeMutableBytes { recv(fd, $0.baseAddress, count, 0) }
            if got > 0 { return Array(buffer[0..<got]) }
            if got == 0 || errno != EAGAIN { return [] }
            try? await Task.sleep(for: .milliseconds(10))
        }
        return []
    }

    /// The HTTP response head of a handshake (and nothing after it).
    public func readHead() async -> String {
        var bytes: [UInt8] = []
        while !bytes.ends(with: Array("\r\n\r\n".utf8)) {
            let next = await read(atMost: 1)
            if next.isEmpty { break }
            bytes += next
        }
        return String(decoding: bytes, as: UTF8.self)
    }

    /// Sends a WebSocket handshake for /ws/stock; returns the response head.
    public func handshake(query: String = "", origin: String? = nil) async -> String {
        var request = "GET /ws/stock\(query) HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
        request += "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n"
        if let origin { request += "Origin: \(origin)\r\n" }
        send(request + "\r\n")
        return await readHead()
    }
}

extension Array where Element == UInt8 {
    public func ends(with suffix: [UInt8]) -> Bool { count >= suffix.count && Array(self[(count - suffix.count)...]) == suffix }
}

extension RawSocket {
    /// Everything until the peer closes the connection (or a generous bound passes).
    public func readUntilClosed() async -> [UInt8] {
        var received: [UInt8] = []
        while true {
            let next = await read(atMost: 4096)
            if next.isEmpty { return received }
            received += next
        }
    }
}

extension RawSocket {
    /// connect(2) of `fd` to 127.0.0.1:`port`; 0 or -1 with errno, as connect itself.
    public static func connectLoopback(_ fd: Int32, port: Int) -> Int32 {
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        return withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
    }
}
