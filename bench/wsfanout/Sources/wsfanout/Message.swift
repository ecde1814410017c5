#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// CLOCK_MONOTONIC in nanoseconds (a vDSO call: tens of nanoseconds).
@inline(__always)
func monotonicNanos() -> UInt64 {
    var ts = timespec()
    clock_gettime(CLOCK_MONOTONIC, &ts)
    return UInt64(ts.tv_sec) * 1_000_000_000 + UInt64(ts.tv_nsec)
}

/// What the analysis needs of one text message: is it `"type":"stock"`, and its `stock` and
/// `seq` integers. Everything else is skipped without being decoded.
struct StockFields: Sendable {
    var isStock = false
    var stock: Int64?
    var seq: Int64?
}

/// A single pass over one JSON object's top level: keys compared as bytes, string values
/// skipped (escapes honoured), nested values skipped by depth. No allocation. Returns nil for
/// anything that is not a JSON object (counted as unexpected, as the Python client counts a
/// message that is not a stock message).
enum StockScanner {
    private static let keyType: [UInt8] = Array("type".utf8)
    private static let keyStock: [UInt8] = Array("stock".utf8)
    private static let keySeq: [UInt8] = Array("seq".utf8)

    static func scan(_ bytes: UnsafeRawBufferPointer) -> StockFields? {
        var p = Parser(bytes: bytes)
        var out = StockFields()
        p.skipSpace()
        guard p.take(UInt8(ascii: "{")) else { return nil }
        p.skipSpace()
        if p.take(UInt8(ascii: "}")) { return out }
        while true {
            p.skipSpace()
            guard let key = p.stringRange() else { return nil }
            p.skipSpace()
            guard p.take(UInt8(ascii: ":")) else { return nil }
            p.skipSpace()
            guard let first = p.peek() else { return nil }
            switch first {
            case UInt8(ascii: "\""):
                guard let value = p.stringRange() else { return nil }
                if p.equals(key, keyType) { out.isStock = p.equals(value, keyStock) }
            case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"):
                let number = p.integer()
                if p.equals(key, keyStock) {
                    out.stock = number
                } else if p.equals(key, keySeq) {
                    out.seq = number
                }
            default:
                guard p.skipValue() else { return nil }
            }
            p.skipSpace()
            if p.take(UInt8(ascii: ",")) { continue }
            if p.take(UInt8(ascii: "}")) { return out }
            return nil
        }
    }

    private struct Parser {
        let bytes: UnsafeRawBufferPointer
        var i = 0

        init(bytes: UnsafeRawBufferPointer) { self.bytes = bytes }

        func peek() -> UInt8? { i < bytes.count ? bytes[i] : nil }

        mutating func take(_ byte: UInt8) -> Bool {
            guard i < bytes.count, bytes[i] == byte else { return false }
            i += 1
            return true
        }

        mutating func skipSpace() {
            while i < bytes.count {
                switch bytes[i] {
                case 0x20, 0x09, 0x0A, 0x0D: i += 1
                default: return
                }
            }
        }

        /// The raw bytes between the quotes of a string (escapes left as they are; a key or
        /// value with an escape simply never equals the plain words compared against).
        mutating func stringRange() -> Range<Int>? {
            guard take(UInt8(ascii: "\"")) else { return nil }
            let start = i
            while i < bytes.count {
                switch bytes[i] {
                case UInt8(ascii: "\\"): i += 2
                case UInt8(ascii: "\""):
                    i += 1
                    return start..<(i - 1)
                default: i += 1
                }
            }
            return nil
        }

        func equals(_ range: Range<Int>, _ word: [UInt8]) -> Bool {
            guard range.count == word.count else { return false }
            var j = 0
            for k in range {
                if bytes[k] != word[j] { return false }
                j += 1
            }
            return true
        }

        /// An integer; nil when the number has a fraction or an exponent (or overflows).
        mutating func integer() -> Int64? {
            var negative = false
            if take(UInt8(ascii: "-")) { negative = true }
            var value: Int64 = 0
            var digits = 0
            var ok = true
            while i < bytes.count, bytes[i] >= 0x30, bytes[i] <= 0x39 {
                let (m, o1) = value.multipliedReportingOverflow(by: 10)
                let (s, o2) = m.addingReportingOverflow(Int64(bytes[i] - 0x30))
                if o1 || o2 { ok = false }
                value = s
                digits += 1
                i += 1
            }
            // A fraction or exponent: not an integer; skip the rest of the number.
            while i < bytes.count, Self.isNumberTail(bytes[i]) {
                ok = false
                i += 1
            }
            guard ok, digits > 0 else { return nil }
            return negative ? -value : value
        }

        static func isNumberTail(_ b: UInt8) -> Bool {
            switch b {
            case UInt8(ascii: "."), UInt8(ascii: "e"), UInt8(ascii: "E"), UInt8(ascii: "+"), UInt8(ascii: "-"),
                 UInt8(ascii: "0")...UInt8(ascii: "9"):
                return true
            default:
                return false
            }
        }

        /// Skips an object, array, true, false or null.
        mutating func skipValue() -> Bool {
            var depth = 0
            while i < bytes.count {
                let b = bytes[i]
                switch b {
                case UInt8(ascii: "\""):
                    guard stringRange() != nil else { return false }
                    if depth == 0 { return true }
                    continue
                case UInt8(ascii: "{"), UInt8(ascii: "["):
                    depth += 1
                case UInt8(ascii: "}"), UInt8(ascii: "]"):
                    if depth == 0 { return true }  // the end of the enclosing object: caller sees it
                    depth -= 1
                    if depth == 0 {
                        i += 1
                        return true
                    }
                case UInt8(ascii: ","):
                    if depth == 0 { return true }
                default:
                    break
                }
                i += 1
            }
            return depth == 0
        }
    }
}
