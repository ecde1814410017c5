/// One preallocated buffer whose slots are filled by concurrent workers
/// (`DispatchQueue.concurrentPerform`), each writing only its own slots: no lock, no copying of
/// results through a collection that every worker would have to share.
final class WorkerSlots<Element>: @unchecked Sendable {
    let slots: UnsafeMutableBufferPointer<Element>
    var count: Int { slots.count }

    init(count: Int, repeating empty: Element) {
        slots = .allocate(capacity: count)
        slots.initialize(repeating: empty)
    }

    deinit {
        slots.deinitialize()
        slots.deallocate()
    }

    var array: [Element] { Array(slots) }
}
