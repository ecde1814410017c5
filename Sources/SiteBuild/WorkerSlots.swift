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

/// A value handed to concurrent workers that only read it (a closure over the build's immutable
/// models): Swift cannot see that they never change it.
struct UncheckedBox<Value>: @unchecked Sendable {
    let value: Value
    init(_ value: Value) { self.value = value }
}
