import Synchronization

/// What a command-line build leaves allocated for the process's exit (`leavesMemoryToExit`).
enum LeftForExit {
    private final class Kept: @unchecked Sendable {
        let values: [Any]
        init(_ values: [Any]) { self.values = values }
    }

    private static let kept = Mutex<[Kept]>([])

    static func keep(_ values: Any...) {
        let box = Kept(values)
        kept.withLock { $0.append(box) }
    }
}
