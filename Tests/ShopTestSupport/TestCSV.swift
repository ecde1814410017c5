/// A small RFC 4180 reader of its own, so that what a test expects of a CSV file never comes from
/// the importer's CSVReader, the code under test. It knows quotes, doubled quotes, newlines inside
/// quotes, CRLF and a leading byte order mark, and skips blank lines; nothing more.
public enum TestCSV {
    /// The records of `text`, each a list of its fields.
    public static func rows(_ text: String) -> [[String]] {
        var scalars = Array(text.unicodeScalars)
        if scalars.first == "\u{FEFF}" { scalars.removeFirst() }
        var rows: [[String]] = []
        var row: [String] = []
        var field = String.UnicodeScalarView()
        var inQuotes = false
        var rowStarted = false
        var index = 0
        while index < scalars.count {
            let scalar = scalars[index]
            index += 1
            if inQuotes {
                if scalar == "\"" {
                    if index < scalars.count && scalars[index] == "\"" {
                        field.append("\"")
                        index += 1
                    } else {
                        inQuotes = false
                    }
                } else {
                    field.append(scalar)
                }
                continue
            }
            switch scalar {
            case "\"":
                inQuotes = true
                rowStarted = true
            case ",":
                row.append(String(field))
                field = String.UnicodeScalarView()
                rowStarted = true
            case "\r":
                continue
            case "\n":
                if rowStarted || !field.isEmpty {
                    row.append(String(field))
                    rows.append(row)
                }
                row = []
                field = String.UnicodeScalarView()
                rowStarted = false
            default:
                field.append(scalar)
                rowStarted = true
            }
        }
        if rowStarted || !field.isEmpty {
            row.append(String(field))
            rows.append(row)
        }
        return rows
    }
}
