import Foundation

/// A one-line progress display on a terminal; nothing when standard error is not a terminal
/// (CI logs and pipes get the summary only, not a stream of carriage returns).
/// Safe to call from any thread (an import reports from inside the database's write).
final class TerminalProgress: @unchecked Sendable {
    // Unchecked: every mutable field is guarded by `lock`.
    let isTerminal = isatty(STDERR_FILENO) == 1
    private let lock = NSLock()
    private var shown = false
    private var lastUpdate = Date.distantPast

    func update(_ text: String, force: Bool = false) {
        guard isTerminal else { return }
        lock.withLock {
            let now = Date()
            guard force || now.timeIntervalSince(lastUpdate) > 0.1 else { return }
            lastUpdate = now
            FileHandle.standardError.write(Data("\r\u{1B}[K\(text)".utf8))
            shown = true
        }
    }

    func finish() {
        guard isTerminal else { return }
        lock.withLock {
            guard shown else { return }
            FileHandle.standardError.write(Data("\r\u{1B}[K".utf8))
            shown = false
        }
    }

    static func bar(done: Int, total: Int, width: Int = 28) -> String {
        let fraction = total > 0 ? min(1, Double(done) / Double(total)) : 1
        let filled = Int(fraction * Double(width))
        return "[" + String(repeating: "#", count: filled) + String(repeating: ".", count: width - filled) + "]"
            + " \(done)/\(total)"
    }
}
