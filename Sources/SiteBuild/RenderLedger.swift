/// What the render stages of one build have written so far: the outputs in the order written
/// (the report's `rendered`), progress for the terminal every 200 of them, and the segments of
/// the Merchant Center feed's .gz taken from the live one.
final class RenderLedger {
    private let tree: OutputTree
    private let total: Int
    private let progress: (SiteBuilder.Progress) -> Void
    private var done = 0
    private(set) var rendered: [String] = []
    var segmentsReused = 0

    init(tree: OutputTree, total: Int, progress: @escaping (SiteBuilder.Progress) -> Void) {
        self.tree = tree
        self.total = total
        self.progress = progress
        rendered.reserveCapacity(total)
    }

    /// One output is done.
    func record(_ path: String) {
        rendered.append(path)
        let before = done
        done += 1
        if done / 200 != before / 200 || done == total { progress(SiteBuilder.Progress(stage: .render, done: done, total: total)) }
    }

    func write(_ planned: PlannedOutput, _ html: [UInt8]) throws {
        try html.withUnsafeBytes { try tree.write(planned.path, digest: planned.digest, bytes: $0) }
        record(planned.path)
    }

    func write(_ planned: PlannedOutput, _ text: String) throws {
        try tree.write(planned.path, digest: planned.digest, text)
        record(planned.path)
    }

    /// An output a worker (or the feeds' task) wrote into the spare itself.
    func recordWritten(_ planned: PlannedOutput, _ file: WrittenFile) {
        tree.recordWritten(planned.path, digest: planned.digest, file)
        record(planned.path)
    }
}
