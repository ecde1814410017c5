import Foundation
import ShopCore
import Testing

@Suite("Money")
struct MoneyTests {
    static let eur = Currency(code: "EUR")!
    static let jpy = Currency(code: "JPY")!
    static let kwd = Currency(code: "KWD")!

    @Test("Currency codes and their minor digits")
    func currencies() {
        #expect(Self.eur.minorDigits == 2)
        #expect(Self.jpy.minorDigits == 0)
        #expect(Self.kwd.minorDigits == 3)
        #expect(Currency(code: "usd")?.code == "USD")
        #expect(Currency(code: "EURO") == nil)
        #expect(Currency(code: "EU") == nil)
        #expect(Currency(code: "E1R") == nil)
        #expect(Currency(code: "") == nil)
    }

    @Test("Decimal text becomes exact minor units (2-digit currency)", arguments: [
        ("42.99", 4299), ("50", 5000), ("25.9", 2590), ("0.5", 50), ("12.500", 1250), ("0", 0), ("0.01", 1),
        ("19.5", 1950), ("120", 12000), (" 42.99 ", 4299), ("+3.10", 310), ("12.050", 1205),
    ])
    func parsesTwoDigitCurrency(text: String, expected: Int) throws {
        #expect(try Money.parseMinorUnits(text, currency: Self.eur) == expected)
    }

    @Test("JPY has no minor unit")
    func parsesZeroDigitCurrency() throws {
        #expect(try Money.parseMinorUnits("4300", currency: Self.jpy) == 4300)
        #expect(try Money.parseMinorUnits("43.0", currency: Self.jpy) == 43)  // a trailing zero loses nothing
        #expect(throws: MoneyParseError.tooManyDecimals(allowed: 0)) {
            try Money.parseMinorUnits("43.5", currency: Self.jpy)
        }
    }

    @Test("KWD has three decimals")
    func parsesThreeDigitCurrency() throws {
        #expect(try Money.parseMinorUnits("1.234", currency: Self.kwd) == 1234)
        #expect(try Money.parseMinorUnits("1.5", currency: Self.kwd) == 1500)
        #expect(try Money.parseMinorUnits("7", currency: Self.kwd) == 7000)
        #expect(throws: MoneyParseError.tooManyDecimals(allowed: 3)) {
            try Money.parseMinorUnits("1.2345", currency: Self.kwd)
        }
    }

    @Test("Malformed amounts are refused with the right reason", arguments: [
        ("", MoneyParseError.notADecimal),
        ("   ", MoneyParseError.notADecimal),
        ("abc", MoneyParseError.notADecimal),
        ("1.2.3", MoneyParseError.notADecimal),
        ("1,50", MoneyParseError.notADecimal),
        ("12,x", MoneyParseError.notADecimal),
        (".", MoneyParseError.notADecimal),
        ("$12", MoneyParseError.notADecimal),
        ("1e3", MoneyParseError.notADecimal),
        ("４２", MoneyParseError.notADecimal),  // full-width digits are not ASCII digits
        ("-5", MoneyParseError.negative),
        ("-0.01", MoneyParseError.negative),
        ("12.345", MoneyParseError.tooManyDecimals(allowed: 2)),
        ("0.001", MoneyParseError.tooManyDecimals(allowed: 2)),
        ("99999999999999999999999999999", MoneyParseError.tooLarge),
        ("10000000000.01", MoneyParseError.tooLarge),
        ("10000000001", MoneyParseError.tooLarge),
    ])
    func refusesMalformed(text: String, expected: MoneyParseError) {
        #expect(throws: expected) {
            try Money.parseMinorUnits(text, currency: Self.eur)
        }
    }

    @Test("The largest accepted amount is exactly maxMinorUnits")
    func largestAmount() throws {
        #expect(try Money.parseMinorUnits("10000000000", currency: Self.eur) == Money.maxMinorUnits)
        #expect(try Money.parseMinorUnits("10000000000.00", currency: Self.eur) == Money.maxMinorUnits)
    }

    @Test("decimalText writes plain decimal text")
    func decimalText() {
        #expect(Money.decimalText(4299, currency: Self.eur) == "42.99")
        #expect(Money.decimalText(5000, currency: Self.eur) == "50.00")
        #expect(Money.decimalText(5, currency: Self.eur) == "0.05")
        #expect(Money.decimalText(0, currency: Self.eur) == "0.00")
        #expect(Money.decimalText(-250, currency: Self.eur) == "-2.50")
        #expect(Money.decimalText(4300, currency: Self.jpy) == "4300")
        #expect(Money.decimalText(1234, currency: Self.kwd) == "1.234")
        #expect(Money.decimalText(5, currency: Self.kwd) == "0.005")
    }

    @Test("decimalText and parseMinorUnits round-trip", arguments: [
        0, 1, 5, 10, 99, 100, 101, 2590, 4299, 123_456_789, 999_999_999_999, Money.maxMinorUnits,
    ])
    func roundTrip(minorUnits: Int) throws {
        for currency in [Self.eur, Self.jpy, Self.kwd] {
            let text = Money.decimalText(minorUnits, currency: currency)
            #expect(try Money.parseMinorUnits(text, currency: currency) == minorUnits, "\(currency) \(text)")
        }
    }

    @Test("PriceFormatter shows the currency in the shop's locale")
    func formatsPrices() {
        let irish = PriceFormatter(currency: Self.eur, locale: "en_IE").format(4299)
        #expect(irish.contains("42.99"), "\(irish)")
        #expect(irish.contains("€"), "\(irish)")

        let german = PriceFormatter(currency: Self.eur, locale: "de_DE").format(4299)
        #expect(german.contains("42,99"), "\(german)")
        #expect(german.contains("€"), "\(german)")

        let yen = PriceFormatter(currency: Self.jpy, locale: "en_US").format(4300)
        #expect(yen.contains("4,300"), "\(yen)")
        #expect(!yen.contains("."), "JPY shows no decimals: \(yen)")

        let dinar = PriceFormatter(currency: Self.kwd, locale: "en_US").format(1234)
        #expect(dinar.contains("1.234"), "\(dinar)")
    }
}
