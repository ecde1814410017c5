import GRDB
import GRDBSQLite
import Synchronization

/// Reads the catalog revision (CatalogRevisions) on a connection of its own, with SQLite's C
/// calls: the runtime reads it on every catalog request, and through GRDB's pool (a reader taken
/// from the pool, a dispatch queue entered, the schema version checked) it cost about 100 µs of
/// CPU per request on the benchmark machine, more than the rest of a cached answer. Here it is
/// one prepared statement stepped under a lock: a WAL read transaction, a few microseconds.
final class SQLiteRevisionReader: Sendable {
    private struct Handles: @unchecked Sendable {
        // Used only under `handles`' lock.
        var connection: OpaquePointer?
        var statement: OpaquePointer?
    }
    private let handles: Mutex<Handles>
    private let path: String
    static let sql = "SELECT revision FROM catalog_revision WHERE id = 1"

    init(path: String) throws {
        self.path = path
        var connection: OpaquePointer?
        // Read-write although it never writes: a read-only connection cannot rebuild the WAL
        // index after a crash. NOMUTEX: the lock here already keeps it to one thread at a time.
        var code = sqlite3_open_v2(path, &connection, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX, nil)
        var statement: OpaquePointer?
        if code == SQLITE_OK {
            // A writer checkpointing can hold readers off for a moment; never for long.
            sqlite3_busy_timeout(connection, 5000)
            code = sqlite3_prepare_v2(connection, Self.sql, -1, &statement, nil)
        }
        guard code == SQLITE_OK else {
            let message = connection.flatMap { sqlite3_errmsg($0) }.map { String(cString: $0) } ?? "SQLite error \(code)"
            sqlite3_finalize(statement)
            sqlite3_close_v2(connection)
            throw StoreError.cannotOpen(location: path, reason: message)
        }
        handles = Mutex(Handles(connection: connection, statement: statement))
    }

    func read() throws -> Int64 {
        try handles.withLock { handles in
            guard let statement = handles.statement else {
                throw DatabaseError(resultCode: .SQLITE_MISUSE, message: "the store is closed", sql: Self.sql)
            }
            let code = sqlite3_step(statement)
            let revision = code == SQLITE_ROW ? sqlite3_column_int64(statement, 0) : 0
            let failed = code != SQLITE_ROW && code != SQLITE_DONE
            let message = failed ? handles.connection.flatMap { sqlite3_errmsg($0) }.map { String(cString: $0) } : nil
            // Reset at once: a statement left stepping would hold its read transaction, and so
            // keep the WAL from being checkpointed past it.
            sqlite3_reset(statement)
            if failed { throw DatabaseError(resultCode: ResultCode(rawValue: code), message: message, sql: Self.sql) }
            return revision
        }
    }

    func close() {
        handles.withLock { handles in
            sqlite3_finalize(handles.statement)
            sqlite3_close_v2(handles.connection)
            handles = Handles()
        }
    }

    deinit { close() }
}
