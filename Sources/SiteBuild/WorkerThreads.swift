import Foundation
import Synchronization

/// Runs `work`, which blocks for long (a feed of the whole catalog), on a thread of its own.
/// On one of Swift's cooperative threads it would hold that thread until done: with two cores,
/// two feeds held both, and a one-product rebuild's few listing pages waited 50-90 ms for them
/// rather than sharing the cores.
func onThreadOfItsOwn<Result: Sendable>(_ work: @escaping @Sendable () throws -> Result) async throws -> Result {
    try await withCheckedThrowingContinuation { continuation in
        let thread = Thread { continuation.resume(with: Swift.Result { try work() }) }
        thread.stackSize = 8 << 20
        thread.start()
    }
}

/// Renders `items` split between `workers` tasks; the results come back in the items' order.
func renderInParallel<Item: Sendable, Result: Sendable>(
    _ items: [Item], workers: Int, _ render: @escaping @Sendable (Item) throws -> Result
) async throws -> [Result] {
    guard workers > 1, items.count > 1 else { return try items.map(render) }
    // Chunks are handed out as workers ask for them, not in equal shares fixed up front: a
    // worker that shares its core with a feed task falls behind without keeping the others
    // waiting at the end. Small enough to balance, large enough that asking costs nothing.
    let chunkSize = max(1, min(64, items.count / (workers * 8)))
    let chunkCount = (items.count + chunkSize - 1) / chunkSize
    let next = ChunkCounter()
    return try await withThrowingTaskGroup(of: [(Int, [Result])].self) { group in
        for _ in 0..<min(workers, chunkCount) {
            group.addTask {
                var done: [(Int, [Result])] = []
                while true {
                    let chunk = next.take()
                    guard chunk < chunkCount else { return done }
                    let start = chunk * chunkSize
                    done.append((chunk, try items[start..<min(start + chunkSize, items.count)].map(render)))
                }
            }
        }
        var chunks = [[Result]](repeating: [], count: chunkCount)
        for try await done in group { for (chunk, results) in done { chunks[chunk] = results } }
        return chunks.flatMap { $0 }
    }
}

/// The next chunk of a `renderInParallel` call, shared by its workers.
final class ChunkCounter: Sendable {
    private let value = Atomic<Int>(0)
    func take() -> Int { value.wrappingAdd(1, ordering: .relaxed).oldValue }
}
