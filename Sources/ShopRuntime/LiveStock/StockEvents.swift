import Foundation
import Logging
import NIOCore
import ServiceLifecycle
import ShopStore
import Synchronization

/// Where the routes that change stock say so (checkout, admin edits).
public protocol StockEvents: Sendable {
    /// Called after a transaction that changed stock committed. Its events are already in the
    /// events table (the store wrote them in the same transaction); this only says "read now".
    func stockChanged()
}

/// The one place stock events flow through in a runtime (issue 7).
///
/// The events table is the source of truth: the hub keeps `delivered`, the highest seq it has
/// handed to its subscribers, and reads every event after it, in seq order, whenever
///  - a route of this process committed a change (`stockChanged()`),
///  - PostgreSQL notified a commit of any runtime (LISTEN on a dedicated connection),
///  - the poll interval passed (SQLite: how a change made by another process, such as
///    `ishop import`, reaches a running runtime; PostgreSQL: a backstop only),
///  - the LISTEN connection came back after a loss (so nothing committed meanwhile is missed).
/// Reads are serialised and coalesced: a wake-up during a read causes one more read, not many.
/// Because seq order is commit order (see StockEventLog), reading "after delivered" never skips
/// an event and never goes backwards.
public final class StockHub: StockEvents, Service {
    public struct Settings: Sendable {
        /// Read the table this often even without a wake-up; nil: never.
        public var pollInterval: Duration?
        /// How often old events are pruned, keeping the newest `keepEvents`.
        public var pruneInterval: Duration
        public var keepEvents: Int
        /// The LISTEN connection's reconnect delay: exponential with full jitter between these.
        public var reconnectBase: Duration
        public var reconnectCap: Duration
        /// Events read per query.
        public var batchSize: Int

        public init(pollInterval: Duration?, pruneInterval: Duration = .seconds(300), keepEvents: Int = 100_000,
                    reconnectBase: Duration = .milliseconds(200), reconnectCap: Duration = .seconds(10), batchSize: Int = 1000)
        {
            self.pollInterval = pollInterval
            self.pruneInterval = pruneInterval
            self.keepEvents = keepEvents
            self.reconnectBase = reconnectBase
            self.reconnectCap = reconnectCap
            self.batchSize = batchSize
        }

        /// SQLite: poll each second for other processes' commits (one indexed query).
        public static var sqlite: Settings { Settings(pollInterval: .seconds(1)) }
        /// PostgreSQL: NOTIFY carries everything; the poll is only a backstop.
        public static var postgres: Settings { Settings(pollInterval: .seconds(30)) }
    }

    private struct State {
        var delivered: Int64
        var subscribers: [Int: StockSubscriber] = [:]
        var nextID = 0
        var reading = false
        var readAgain = false
        var listenerPID: Int?
        var listens = 0
    }

    let store: any CommerceStore
    let notifier: (any StockEventNotifier)?
    let settings: Settings
    let logger: Logger
    private let state: Mutex<State>

    /// A hub that delivers events after `startingAfter` (normally the newest seq at start-up: a
    /// runtime does not replay history to its subscribers; clients resume with ?since=).
    public init(store: any CommerceStore, startingAfter: Int64, notifier: (any StockEventNotifier)?, settings: Settings,
                logger: Logger = Logger(label: "ishop.stock"))
    {
        self.store = store
        self.notifier = notifier
        self.settings = settings
        self.logger = logger
        state = Mutex(State(delivered: startingAfter))
    }

    /// The hub for a store: PostgreSQL's LISTEN/NOTIFY when the store has it, polling otherwise.
    public static func open(store: any CommerceStore, settings: Settings? = nil, logger: Logger = Logger(label: "ishop.stock")) async throws
        -> StockHub
    {
        let notifier = store as? any StockEventNotifier
        let horizon = try await store.stockEventHorizon()
        return StockHub(store: store, startingAfter: horizon.latest, notifier: notifier,
                        settings: settings ?? (notifier == nil ? .sqlite : .postgres), logger: logger)
    }

    // MARK: Reading the events table

    public func stockChanged() { scheduleRead() }

    /// The highest seq handed to subscribers.
    public var delivered: Int64 { state.withLock { $0.delivered } }

    /// The server process id of the LISTEN connection while it is up (tests end it on purpose).
    public var listenerBackendPID: Int? { state.withLock { $0.listenerPID } }
    /// How many times LISTEN was put in place (1 after start-up, one more after each reconnect).
    public var listenCount: Int { state.withLock { $0.listens } }

    func scheduleRead() {
        let start = state.withLock { state -> Bool in
            if state.reading {
                state.readAgain = true
                return false
            }
            state.reading = true
            return true
        }
        guard start else { return }
        Task { await self.readUntilQuiet() }
    }

    private func readUntilQuiet() async {
        while true {
            do {
                try await readNewEvents()
            } catch {
                // The next wake-up or poll tries again; nothing is lost, `delivered` did not move.
                logger.warning("cannot read stock events", metadata: ["error": "\(error)"])
            }
            let again = state.withLock { state -> Bool in
                if state.readAgain {
                    state.readAgain = false
                    return true
                }
                state.reading = false
                return false
            }
            if !again { return }
        }
    }

    private func readNewEvents() async throws {
        while true {
            let after = delivered
            let events = try await store.stockEvents(after: after, limit: settings.batchSize)
            guard !events.isEmpty else { return }
            deliver(events)
            if events.count < settings.batchSize { return }
        }
    }

    /// Hands events to every subscriber, under the lock that also guards subscribing: a
    /// subscriber added at `delivered == N` gets exactly the events after N.
    private func deliver(_ events: [StockEvent]) {
        state.withLock { state in
            let fresh = events.filter { $0.seq > state.delivered }
            guard let last = fresh.last else { return }
            state.delivered = last.seq
            let messages = fresh.map(StockMessage.init)
            for subscriber in state.subscribers.values { subscriber.offer(messages) }
        }
    }

    // MARK: Subscribers

    /// Adds a subscriber; returns the seq after which it will receive every event.
    func add(_ subscriber: StockSubscriber) -> Int64 {
        state.withLock { state in
            state.nextID += 1
            subscriber.id = state.nextID
            state.subscribers[state.nextID] = subscriber
            return state.delivered
        }
    }

    func remove(_ subscriber: StockSubscriber) {
        _ = state.withLock { $0.subscribers.removeValue(forKey: subscriber.id) }
    }

    public var subscriberCount: Int { state.withLock { $0.subscribers.count } }

    /// Every subscriber now (for the sockets' stall watchdog).
    var subscribers: [StockSubscriber] { state.withLock { Array($0.subscribers.values) } }

    /// A stream of every event delivered from now on (tests, and anything in-process that
    /// wants the feed without a socket). It ends when the consumer stops iterating.
    public func events(bufferingNewest limit: Int = 4096) -> AsyncStream<StockEvent> {
        let (stream, continuation) = AsyncStream<StockEvent>.makeStream(bufferingPolicy: .bufferingNewest(limit))
        let subscriber = StockSubscriber(filter: nil, maxPending: Int.max, onEvents: { messages in
            for message in messages { continuation.yield(message.event) }
        })
        _ = add(subscriber)
        continuation.onTermination = { [weak self] _ in self?.remove(subscriber) }
        return stream
    }

    // MARK: Running

    /// Polls, prunes and (on PostgreSQL) listens until the runtime shuts down; then closes every
    /// subscriber, whose sockets end with 1001 (going away).
    public func run() async throws {
        // Ends at the runtime's graceful shutdown (or when the task running it is cancelled).
        await cancelWhenGracefulShutdown {
            await withTaskGroup(of: Void.self) { group in
                if let poll = self.settings.pollInterval {
                    group.addTask {
                        while !Task.isCancelled {
                            try? await Task.sleep(for: poll)
                            self.scheduleRead()
                        }
                    }
                }
                group.addTask {
                    while !Task.isCancelled {
                        try? await Task.sleep(for: self.settings.pruneInterval)
                        guard !Task.isCancelled else { return }
                        do {
                            let deleted = try await self.store.pruneStockEvents(keepingNewest: self.settings.keepEvents)
                            if deleted > 0 { self.logger.info("pruned old stock events", metadata: ["deleted": "\(deleted)"]) }
                        } catch {
                            self.logger.warning("cannot prune stock events", metadata: ["error": "\(error)"])
                        }
                    }
                }
                if let notifier = self.notifier {
                    group.addTask { await self.listen(notifier) }
                }
                await group.waitForAll()
            }
        }
        for subscriber in subscribers { subscriber.close(.goingAway) }
    }

    /// Holds the LISTEN connection; after any loss, reconnects with backoff, and reads the table
    /// once LISTEN is back in place.
    private func listen(_ notifier: any StockEventNotifier) async {
        var failures = 0
        while !Task.isCancelled {
            do {
                try await notifier.listenForStockEvents(listening: { pid in
                    let count = self.state.withLock { state -> Int in
                        state.listenerPID = pid
                        state.listens += 1
                        return state.listens
                    }
                    if count > 1 { self.logger.notice("stock listener is back; catching up from the events table", metadata: ["pid": "\(pid)"]) }
                    try await self.catchUpAfterListening()
                }, notified: { payload in
                    self.notified(payload)
                })
            } catch {
                if Task.isCancelled { break }
                logger.warning("stock listener lost its connection", metadata: ["error": "\(error)", "failures": "\(failures + 1)"])
            }
            state.withLock { $0.listenerPID = nil }
            if Task.isCancelled { break }
            failures += 1
            try? await Task.sleep(for: Backoff.fullJitter(attempt: failures, base: settings.reconnectBase, cap: settings.reconnectCap))
        }
    }

    /// After LISTEN is (re)established: when the events this hub has not seen yet were pruned
    /// meanwhile, its subscribers can only be given a full snapshot; otherwise a normal read
    /// brings everything committed while the connection was down.
    private func catchUpAfterListening() async throws {
        let horizon = try await store.stockEventHorizon()
        let lost = state.withLock { state -> [StockSubscriber] in
            guard state.delivered < horizon.prunedThrough else { return [] }
            state.delivered = horizon.latest
            return Array(state.subscribers.values)
        }
        if !lost.isEmpty {
            logger.warning("stock events were pruned while the listener was away: full snapshots for every subscriber",
                           metadata: ["subscribers": "\(lost.count)"])
            for subscriber in lost { subscriber.requestSnapshot(through: horizon.latest) }
        }
        scheduleRead()
    }

    /// A notification's payload is "first last" (the seq range of one transaction); already
    /// delivered ranges (this runtime read them after its own commit) cost nothing.
    private func notified(_ payload: String) {
        let parts = payload.split(separator: " ")
        if parts.count == 2, let last = Int64(parts[1]), last <= delivered { return }
        scheduleRead()
    }
}

/// Exponential backoff with full jitter: a random delay between 0 and min(cap, base * 2^attempt).
enum Backoff {
    static func fullJitter(attempt: Int, base: Duration, cap: Duration) -> Duration {
        let ceiling = min(Double(cap.components.seconds) + Double(cap.components.attoseconds) / 1e18,
                          (Double(base.components.seconds) + Double(base.components.attoseconds) / 1e18) * pow(2, Double(min(attempt, 30))))
        return .milliseconds(Int64(Double.random(in: 0...ceiling) * 1000))
    }
}

/// One event as it goes out on every socket: encoded once, whatever the number of subscribers
/// (every connection writes the same bytes; ByteBuffer shares them).
struct StockMessage: Sendable {
    let event: StockEvent
    let bytes: ByteBuffer

    init(_ event: StockEvent) {
        self.event = event
        bytes = ByteBuffer(string: #"{"type":"stock","sku":"# + JSONText.quoted(event.sku) + #","stock":\#(event.stock),"seq":\#(event.seq)}"#)
    }
}

enum JSONText {
    /// A JSON string literal (SKUs are free text from imports: quotes, backslashes, controls),
    /// escaped by the runtime's one JSON writer.
    static func quoted(_ text: String) -> String {
        var json = JSONOutput(capacity: text.utf8.count + 2)
        json.string(text)
        return String(buffer: json.buffer)
    }
}

/// One consumer of the hub (a WebSocket connection): a bounded outbox that keeps only the latest
/// value per SKU, so a reader that falls behind skips intermediate values, never the newest.
/// The hub only ever touches the outbox under its lock and never waits for the consumer: it calls
/// `wake` (once, until the consumer takes what is there) and the consumer takes on its own thread.
final class StockSubscriber: Sendable {
    enum CloseReason: Sendable, Equatable {
        /// The consumer went away or is done.
        case finished
        /// The runtime shuts down.
        case goingAway
        /// More SKUs waiting than the outbox holds, or a write stuck too long.
        case tooSlow
    }

    private struct State {
        var filter: Set<String>?
        var pending: [String: StockMessage] = [:]
        /// Events at or below this seq are not wanted (a resuming client has them already).
        var floor: Int64 = 0
        /// While true nothing is handed out: a resuming connection's catch-up is not in yet.
        var held = false
        var snapshotThrough: Int64?
        /// A wake was sent and nothing has been taken since: no need for another.
        var woken = false
        var closed: CloseReason?
        var writeStarted: ContinuousClock.Instant?
        var id = 0

        var hasSomething: Bool { closed != nil || (!held && (!pending.isEmpty || snapshotThrough != nil)) }

        /// True when the consumer must be woken now (and records that it was).
        mutating func needsWake() -> Bool {
            guard hasSomething, !woken else { return false }
            woken = true
            return true
        }
    }

    private let state: Mutex<State>
    let maxPending: Int
    /// Synchronous delivery instead of an outbox (the in-process `events()` feed).
    private let onEvents: (@Sendable ([StockMessage]) -> Void)?
    /// Called when there is something to take; never under the hub's or the subscriber's lock
    /// for long (the socket hands it to its event loop).
    private let wake: @Sendable () -> Void
    /// Called once when the subscriber is closed for being too slow.
    let onTooSlow: @Sendable () -> Void

    init(filter: Set<String>?, maxPending: Int, held: Bool = false, onEvents: (@Sendable ([StockMessage]) -> Void)? = nil,
         wake: @escaping @Sendable () -> Void = {}, onTooSlow: @escaping @Sendable () -> Void = {})
    {
        var initial = State()
        initial.filter = filter
        initial.held = held
        state = Mutex(initial)
        self.maxPending = maxPending
        self.onEvents = onEvents
        self.wake = wake
        self.onTooSlow = onTooSlow
    }

    var id: Int {
        get { state.withLock { $0.id } }
        set { state.withLock { $0.id = newValue } }
    }

    /// Called by the hub with events in seq order; never blocks.
    func offer(_ messages: [StockMessage]) {
        if let onEvents {
            onEvents(messages)
            return
        }
        var tooSlow = false
        let wakeNow = state.withLock { state -> Bool in
            guard state.closed == nil else { return false }
            for message in messages where message.event.seq > state.floor && (state.filter?.contains(message.event.sku) ?? true) {
                state.pending[message.event.sku] = message
            }
            if state.pending.count > maxPending {
                state.closed = .tooSlow
                tooSlow = true
            }
            return state.needsWake()
        }
        if wakeNow { wake() }
        if tooSlow { onTooSlow() }
    }

    /// Catch-up or snapshot values (seq at or below what the hub has handed out): kept only where
    /// nothing newer is already waiting.
    func offerCatchUp(_ messages: [StockMessage]) {
        let wakeNow = state.withLock { state -> Bool in
            for message in messages where state.filter?.contains(message.event.sku) ?? true {
                if let waiting = state.pending[message.event.sku], waiting.event.seq >= message.event.seq { continue }
                state.pending[message.event.sku] = message
            }
            return state.needsWake()
        }
        if wakeNow { wake() }
    }

    /// Sets the floor and lets the outbox be read (the catch-up is in).
    func release(floor: Int64) {
        let wakeNow = state.withLock { state -> Bool in
            let floor = max(state.floor, floor)
            state.floor = floor
            state.pending = state.pending.filter { $0.value.event.seq > floor }
            state.held = false
            return state.needsWake()
        }
        if wakeNow { wake() }
    }

    /// Replaces the filter (the client's `subscribe`); values of SKUs no longer wanted are dropped.
    func setFilter(_ filter: Set<String>?) {
        state.withLock { state in
            state.filter = filter
            if let filter { state.pending = state.pending.filter { filter.contains($0.key) } }
        }
    }

    var filter: Set<String>? { state.withLock { $0.filter } }

    /// The hub lost track (events pruned while it was away): the consumer sends a full snapshot.
    func requestSnapshot(through seq: Int64) {
        let wakeNow = state.withLock { state -> Bool in
            state.snapshotThrough = max(state.snapshotThrough ?? 0, seq)
            return state.needsWake()
        }
        if wakeNow { wake() }
    }

    enum Next {
        case messages([StockMessage])
        case snapshot(through: Int64)
        case closed(CloseReason)
    }

    /// What there is to send now, or nil: everything pending, oldest seq first (so a client that
    /// saw seq N has every change up to N, or a newer value of it still to come). Anything that
    /// arrives after this call wakes the consumer again.
    func take() -> Next? {
        state.withLock { state -> Next? in
            state.woken = false
            if let reason = state.closed { return .closed(reason) }
            if state.held { return nil }
            if let through = state.snapshotThrough {
                state.snapshotThrough = nil
                return .snapshot(through: through)
            }
            guard !state.pending.isEmpty else { return nil }
            let batch = state.pending.values.sorted { $0.event.seq < $1.event.seq }
            state.pending.removeAll(keepingCapacity: false)
            return .messages(batch)
        }
    }

    func close(_ reason: CloseReason) {
        let wakeNow = state.withLock { state -> Bool in
            if state.closed == nil { state.closed = reason }
            return state.needsWake()
        }
        if wakeNow { wake() }
    }

    var closeReason: CloseReason? { state.withLock { $0.closed } }

    /// The consumer cannot write (every buffer towards the client is full) since now, or can again.
    func writing(_ blocked: Bool) {
        state.withLock { state in
            if !blocked {
                state.writeStarted = nil
            } else if state.writeStarted == nil {
                state.writeStarted = .now
            }
        }
    }

    /// True (and closed as too slow) when the consumer has been unable to write for longer than
    /// `limit`: the client stopped reading and every buffer between us is full.
    func checkStalled(limit: Duration) -> Bool {
        let stalled = state.withLock { state -> Bool in
            guard state.closed == nil, let started = state.writeStarted, ContinuousClock.now - started > limit else { return false }
            return true
        }
        if stalled {
            close(.tooSlow)
            onTooSlow()
        }
        return stalled
    }
}
