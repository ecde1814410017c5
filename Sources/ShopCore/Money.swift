import Foundation
import Synchronization

/// ISO 4217 currencies and their minor units. Prices are integer minor units everywhere
/// (`price_cents`), so decimal text from a CSV is turned into an integer without floating point.
public struct Currency: Sendable, Hashable, CustomStringConvertible {
    public let code: String
    /// Digits after the decimal point: 2 for EUR, 0 for JPY, 3 for KWD.
    public let minorDigits: Int

    private static let zeroDigit: Set<String> = [
        "BIF", "CLP", "DJF", "GNF", "ISK", "JPY", "KMF", "KRW", "PYG", "RWF", "UGX", "UYI", "VND", "VUV",
        "XAF", "XOF", "XPF",
    ]
    private static let threeDigit: Set<String> = ["BHD", "IQD", "JOD", "KWD", "LYD", "OMR", "TND"]

    /// Accepts a three-letter code in any case; returns nil for anything else.
    public init?(code: String) {
        let upper = code.uppercased()
        guard upper.utf8.count == 3, upper.utf8.allSatisfy({ $0 >= UInt8(ascii: "A") && $0 <= UInt8(ascii: "Z") })
        else { return nil }
        self.code = upper
        self.minorDigits = Self.zeroDigit.contains(upper) ? 0 : (Self.threeDigit.contains(upper) ? 3 : 2)
    }

    public var description: String { code }
}

public enum MoneyParseError: Error, Equatable, CustomStringConvertible {
    case notADecimal
    case negative
    case tooManyDecimals(allowed: Int)
    case tooLarge

    public var description: String {
        switch self {
        case .notADecimal: "is not a decimal amount like 12.50"
        case .negative: "is negative"
        case .tooManyDecimals(let allowed):
            allowed == 0 ? "has decimals, but the currency has none" : "has more than \(allowed) decimals"
        case .tooLarge: "is too large"
        }
    }
}

public enum Money {
    /// Largest amount accepted, in minor units: far beyond any price, far below Int64 overflow.
    public static let maxMinorUnits = 1_000_000_000_000

    /// "42.99" -> 4299, "50" -> 5000, "25.9" -> 2590 (for a 2-digit currency). Exact: no Double involved.
    /// Accepts an optional leading "+", digits, and an optional "." with up to `minorDigits` digits.
    public static func parseMinorUnits(_ text: String, currency: Currency) throws(MoneyParseError) -> Int {
        var bytes = Substring(text.trimmingCharacters(in: .whitespaces)).utf8[...]
        if bytes.first == UInt8(ascii: "-") { throw .negative }
        if bytes.first == UInt8(ascii: "+") { bytes = bytes.dropFirst() }
        var whole = 0
        var fraction = 0
        var fractionDigits = 0
        var seenDot = false
        var seenDigit = false
        for byte in bytes {
            switch byte {
            case UInt8(ascii: "0")...UInt8(ascii: "9"):
                seenDigit = true
                let digit = Int(byte - UInt8(ascii: "0"))
                if seenDot {
                    fractionDigits += 1
                    guard fractionDigits <= currency.minorDigits else {
                        // Trailing zeros beyond the minor unit ("12.500") lose nothing: accept them.
                        if digit == 0 { fractionDigits -= 1; continue }
                        throw .tooManyDecimals(allowed: currency.minorDigits)
                    }
                    fraction = fraction * 10 + digit
                } else {
                    whole = whole * 10 + digit
                    guard whole <= maxMinorUnits else { throw .tooLarge }
                }
            case UInt8(ascii: "."):
                guard !seenDot else { throw .notADecimal }
                seenDot = true
            default:
                throw .notADecimal
            }
        }
        guard seenDigit else { throw .notADecimal }
        var scale = 1
        for _ in 0..<currency.minorDigits { scale *= 10 }
        for _ in fractionDigits..<currency.minorDigits { fraction *= 10 }
        let total = whole * scale + fraction
        guard total <= maxMinorUnits else { throw .tooLarge }
        return total
    }

    /// 4299 -> "42.99": the plain decimal text a CSV export writes.
    public static func decimalText(_ minorUnits: Int, currency: Currency) -> String {
        guard currency.minorDigits > 0 else { return String(minorUnits) }
        var scale = 1
        for _ in 0..<currency.minorDigits { scale *= 10 }
        let sign = minorUnits < 0 ? "-" : ""
        let magnitude = minorUnits.magnitude
        let fraction = String(magnitude % UInt(scale))
        let padded = String(repeating: "0", count: currency.minorDigits - fraction.count) + fraction
        return "\(sign)\(magnitude / UInt(scale)).\(padded)"
    }
}

/// Formats prices for shoppers in the shop's locale ("€42.99", "42,99 €", "¥4,300").
///
/// Formatting goes through Decimal built from integer minor units, so no binary floating point
/// ever touches a price. The format style is built once; it is a value and safe to share.
/// Formatted prices are remembered: a catalog has few distinct prices and a build formats each
/// of them thousands of times, and ICU's formatter was a twentieth of a build.
public struct PriceFormatter: Sendable {
    public let currency: Currency
    private let style: Decimal.FormatStyle.Currency
    private let known = FormattedPrices()

    public init(currency: Currency, locale: String) {
        self.currency = currency
        self.style = Decimal.FormatStyle.Currency(code: currency.code, locale: Locale(identifier: locale))
            .precision(.fractionLength(currency.minorDigits))
    }

    public func format(_ minorUnits: Int) -> String {
        if let text = known.texts.withLock({ $0[minorUnits] }) { return text }
        let value = Decimal(sign: minorUnits < 0 ? .minus : .plus, exponent: -currency.minorDigits,
                            significand: Decimal(minorUnits.magnitude))
        let text = style.format(value)
        known.texts.withLock { known in
            // Bounded: a long-running process formats whatever prices it is asked for.
            if known.count >= 50_000 { known.removeAll(keepingCapacity: true) }
            known[minorUnits] = text
        }
        return text
    }
}

/// Shared by the copies of one PriceFormatter (a Mutex cannot be copied, a reference can).
private final class FormattedPrices: Sendable {
    let texts = Mutex<[Int: String]>([:])
}
