import NIOCore
import ShopStore
import Synchronization

/// The catalog API's answers kept in memory for as long as the catalog's revision stays the same
/// (CatalogRevisions): each request reads the revision (one small statement) and answers from
/// memory when nothing changed since. A product's JSON body is kept whole; stock both per SKU
/// and as whole answers by query text.
///
/// Why not invalidate from the stock events instead: they say nothing of prices, titles or
/// products unpublished, and nothing of a change another process wrote (`ishop import`). The
/// revision covers every committed change to products and variants (and images and tags), whoever wrote it, so a
/// request that starts after a commit never gets an answer from before it.
///
/// Entries belong to one revision. A newer revision seen by any request drops them all (the
/// cache then refills from reads). An older one (a request that read the revision just before a
/// commit) neither drops nor adds anything. What is kept is bounded: the JSON bodies (products
/// and stock answers, each with a budget of its own, so that made-up stock queries cannot crowd
/// out the products) by their bytes (`byteCapacity`, about 32 MiB in all: a large catalog's products
/// would otherwise take a hundred), SKUs by count. Past a bound, requests read the store as they
/// would without the cache.
final class CatalogCache: Sendable {
    private struct State {
        var revision: Int64 = .min
        var products: [String: ByteBuffer] = [:]
        var stock: [String: Int] = [:]
        /// SKUs asked for and not found (unknown, or of a draft): kept apart and bounded apart,
        /// so that a client asking for made-up SKUs cannot crowd out the real ones.
        var absent: Set<String> = []
        /// Whole answers of GET /api/stock by query text: every visitor of a product page asks
        /// the same question (that page's SKUs), so the answer is kept as written.
        var stockAnswers: [String: ByteBuffer] = [:]
        /// Bytes of the kept bodies and their keys (an estimate of what they take).
        var productBytes = 0
        var answerBytes = 0

        /// True when the entries are those of `revision` (after dropping older ones).
        mutating func adopt(_ newer: Int64) -> Bool {
            if newer > revision {
                revision = newer
                products.removeAll(keepingCapacity: true)
                stock.removeAll(keepingCapacity: true)
                absent.removeAll(keepingCapacity: true)
                stockAnswers.removeAll(keepingCapacity: true)
                productBytes = 0
                answerBytes = 0
            }
            return newer == revision
        }
    }

    let capacity: Int
    let absentCapacity: Int
    let byteCapacity: Int
    private let state = Mutex(State())

    init(capacity: Int = 100_000, absentCapacity: Int = 10_000, byteCapacity: Int = 32 << 20) {
        self.capacity = capacity
        self.absentCapacity = absentCapacity
        self.byteCapacity = byteCapacity
    }

    /// The kept answer to a GET /api/stock with this query text at `revision`, if any.
    func stockAnswer(query: String, at revision: Int64) -> ByteBuffer? {
        body(query, in: \.stockAnswers, at: revision)
    }

    func keep(stockAnswer body: ByteBuffer, query: String, at revision: Int64) {
        keep(body, as: query, in: \.stockAnswers, counting: \.answerBytes, upTo: byteCapacity / 4, at: revision)
    }

    /// The kept JSON body of a product at `revision`, if any.
    func product(handle: String, at revision: Int64) -> ByteBuffer? {
        body(handle, in: \.products, at: revision)
    }

    func keep(product body: ByteBuffer, handle: String, at revision: Int64) {
        keep(body, as: handle, in: \.products, counting: \.productBytes, upTo: byteCapacity - byteCapacity / 4, at: revision)
    }

    private func body(_ key: String, in table: KeyPath<State, [String: ByteBuffer]>, at revision: Int64) -> ByteBuffer? {
        state.withLock { state in state.adopt(revision) ? state[keyPath: table][key] : nil }
    }

    /// Keeps a body unless the budget is spent. Its cost: its bytes, its key's and about what the
    /// entry itself takes.
    private func keep(_ body: ByteBuffer, as key: String, in table: WritableKeyPath<State, [String: ByteBuffer]>,
                      counting bytes: WritableKeyPath<State, Int>, upTo budget: Int, at revision: Int64) {
        let size = body.readableBytes + key.utf8.count + 64
        state.withLock { state in
            guard state.adopt(revision), state[keyPath: table][key] == nil, state[keyPath: bytes] + size <= budget else { return }
            state[keyPath: table][key] = body
            state[keyPath: bytes] += size
        }
    }

    /// The kept stock of every one of `skus` at `revision`, or nil if any is not kept (the caller
    /// then reads them all in one statement, so an answer is never pieced together from two states).
    func stock(skus: [String], at revision: Int64) -> [String: Int]? {
        state.withLock { state in
            guard state.adopt(revision) else { return nil }
            var found: [String: Int] = [:]
            found.reserveCapacity(skus.count)
            for sku in skus {
                if let count = state.stock[sku] {
                    found[sku] = count
                } else if !state.absent.contains(sku) {
                    return nil
                }
            }
            return found
        }
    }

    /// Keeps what a read of `asked` found (`stock`); the SKUs it did not find are kept as absent.
    func keep(stock: [String: Int], asked: [String], at revision: Int64) {
        state.withLock { state in
            guard state.adopt(revision) else { return }
            if state.stock.count + stock.count <= capacity {
                state.stock.merge(stock) { _, read in read }
            }
            let absent = asked.filter { stock[$0] == nil }
            if !absent.isEmpty, state.absent.count + absent.count <= absentCapacity {
                state.absent.formUnion(absent)
            }
        }
    }
}
