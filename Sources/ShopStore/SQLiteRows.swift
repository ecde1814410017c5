import GRDB
import GRDBSQLite

/// The rows of a prepared statement, read with SQLite's own calls. GRDB's `Row` checks at run
/// time how each value converts (a protocol conformance lookup per column) and allocates per row,
/// which showed in a profile of reading the catalog for a build (about 100,000 rows for 10,000
/// products; about a tenth of that read). Columns are read by position, in the order the query
/// names them.
struct SQLiteRows {
    private let statement: Statement
    private let connection: SQLiteConnection?
    private var handle: SQLiteStatement { statement.sqliteStatement }

    /// Binds `arguments` (which resets the statement first, as GRDB does before a query).
    init(_ statement: Statement, arguments: StatementArguments = [], in db: Database) throws {
        try statement.setArguments(arguments)
        self.statement = statement
        connection = db.sqliteConnection
    }

    /// Moves to the next row; false after the last. The statement is reset when done or failed,
    /// so a cached one holds no read lock between uses.
    func next() throws -> Bool {
        let code = sqlite3_step(handle)
        if code == SQLITE_ROW { return true }
        let message = code == SQLITE_DONE ? nil : connection.flatMap { sqlite3_errmsg($0) }.map { String(cString: $0) }
        sqlite3_reset(handle)
        if code == SQLITE_DONE { return false }
        throw DatabaseError(resultCode: ResultCode(rawValue: code), message: message, sql: statement.sql)
    }

    /// Text as GRDB reads it (up to a NUL, as `String(cString:)`), so the build and the runtime
    /// read the same catalog; NULL reads as "".
    func text(_ column: Int32) -> String {
        guard let bytes = sqlite3_column_text(handle, column) else { return "" }
        return String(cString: bytes)
    }

    func optionalText(_ column: Int32) -> String? {
        sqlite3_column_type(handle, column) == SQLITE_NULL ? nil : text(column)
    }

    func integer(_ column: Int32) -> Int {
        Int(sqlite3_column_int64(handle, column))
    }

    func optionalInteger(_ column: Int32) -> Int? {
        sqlite3_column_type(handle, column) == SQLITE_NULL ? nil : integer(column)
    }

    func flag(_ column: Int32) -> Bool {
        sqlite3_column_int64(handle, column) != 0
    }
}
