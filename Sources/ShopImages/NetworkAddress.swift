#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// An IPv4 or IPv6 address a host name resolves to, and whether the public internet is where it
/// lives. A build fetching from an address inside the network (a cloud metadata service at
/// 169.254.169.254, an admin panel on 10.0.0.1) would be a server-side request forgery.
struct NetworkAddress: Equatable {
    var bytes: [UInt8]  // 4 or 16
    var text: String

    /// Every address `host` resolves to (getaddrinfo: blocking, so call it off the async pool).
    static func resolve(_ host: String) -> [NetworkAddress] {
        var hints = addrinfo()
        hints.ai_family = AF_UNSPEC
        #if canImport(Glibc)
        hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
        #else
        hints.ai_socktype = SOCK_STREAM
        #endif
        var list: UnsafeMutablePointer<addrinfo>?
        guard getaddrinfo(host, nil, &hints, &list) == 0, let first = list else { return [] }
        defer { freeaddrinfo(first) }
        var found: [NetworkAddress] = []
        var cursor: UnsafeMutablePointer<addrinfo>? = first
        while let entry = cursor {
            if let address = entry.pointee.ai_addr {
                if entry.pointee.ai_family == AF_INET {
                    var ipv4 = address.withMemoryRebound(to: sockaddr_in.self, capacity: 1) { $0.pointee.sin_addr }
                    let bytes = withUnsafeBytes(of: &ipv4) { Array($0) }
                    found.append(NetworkAddress(bytes: bytes, text: Self.text(family: AF_INET, &ipv4)))
                } else if entry.pointee.ai_family == AF_INET6 {
                    var ipv6 = address.withMemoryRebound(to: sockaddr_in6.self, capacity: 1) { $0.pointee.sin6_addr }
                    let bytes = withUnsafeBytes(of: &ipv6) { Array($0) }
                    found.append(NetworkAddress(bytes: bytes, text: Self.text(family: AF_INET6, &ipv6)))
                }
            }
            cursor = entry.pointee.ai_next
        }
        return found
    }

    private static func text<T>(family: Int32, _ address: inout T) -> String {
        var buffer = [CChar](repeating: 0, count: 64)
        let ok = withUnsafePointer(to: &address) { inet_ntop(family, $0, &buffer, socklen_t(buffer.count)) }
        guard ok != nil else { return "?" }
        return String(decoding: buffer.prefix(while: { $0 != 0 }).map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    /// False for loopback, private (RFC 1918, ULA), link-local, shared (CGNAT), unspecified,
    /// multicast and broadcast addresses, including IPv4 mapped into IPv6.
    var isPublic: Bool {
        if bytes.count == 4 { return Self.isPublicIPv4(bytes) }
        guard bytes.count == 16 else { return false }
        if bytes[0..<10].allSatisfy({ $0 == 0 }) && bytes[10] == 0xFF && bytes[11] == 0xFF {
            return Self.isPublicIPv4(Array(bytes[12..<16]))
        }
        if bytes.allSatisfy({ $0 == 0 }) { return false }                          // ::
        if bytes[0..<15].allSatisfy({ $0 == 0 }) && bytes[15] == 1 { return false } // ::1
        if bytes[0] == 0xFE && bytes[1] & 0xC0 == 0x80 { return false }            // fe80::/10
        if bytes[0] & 0xFE == 0xFC { return false }                                // fc00::/7
        if bytes[0] == 0xFF { return false }                                       // multicast
        return true
    }

    static func isPublicIPv4(_ b: [UInt8]) -> Bool {
        switch (b[0], b[1]) {
        case (0, _), (10, _), (127, _): return false
        case (169, 254): return false
        case (172, 16...31): return false
        case (192, 168): return false
        case (100, 64...127): return false
        case (224...255, _): return false
        default: return true
        }
    }
}
