import Foundation
import HummingbirdBcrypt
import NIOPosix
import Synchronization

/// bcrypt, off the event loops and the Swift concurrency pool (it is slow on purpose), with a
/// cap on how many hashes run at once and how many may wait: a login flood queues here, or is
/// turned away with 503, while every other request keeps being served.
final class PasswordHasher: Sendable {
    let cost: Int
    private let gate: ConcurrencyGate
    /// A hash of a random password, verified against when an email is unknown, so a login takes
    /// as long whether or not the account exists. Made on first need (not at start-up, which must be quick).
    private let decoy = Mutex<String?>(nil)

    struct Busy: Error {}

    init(cost: Int, concurrentHashes: Int = max(1, ProcessInfo.processInfo.activeProcessorCount), maxWaiting: Int = 64) {
        self.cost = cost
        gate = ConcurrencyGate(permits: concurrentHashes, maxWaiting: maxWaiting)
    }

    func hash(_ password: String) async throws -> String {
        let cost = UInt8(self.cost)
        return try await gate.run {
            try await NIOThreadPool.singleton.runIfActive { Bcrypt.hash(password, cost: cost) }
        }
    }

    func verify(_ password: String, hash: String) async throws -> Bool {
        try await gate.run {
            try await NIOThreadPool.singleton.runIfActive { Bcrypt.verify(password, hash: hash) }
        }
    }

    /// Spends the time of a real verification, and always fails.
    func verifyDecoy(_ password: String) async throws {
        let existing = decoy.withLock { $0 }
        let hash: String
        if let existing {
            hash = existing
        } else {
            hash = try await self.hash(Secrets.randomToken(bytes: 24))
            decoy.withLock { $0 = hash }
        }
        _ = try await verify(password, hash: hash)
    }
}

/// At most `permits` bodies at once; at most `maxWaiting` callers queued behind them.
actor ConcurrencyGate {
    private var available: Int
    private let maxWaiting: Int
    private var waiting: [CheckedContinuation<Void, Never>] = []

    init(permits: Int, maxWaiting: Int) {
        available = permits
        self.maxWaiting = maxWaiting
    }

    func run<T: Sendable>(_ body: @Sendable () async throws -> T) async throws -> T {
        if available > 0 {
            available -= 1
        } else {
            guard waiting.count < maxWaiting else { throw PasswordHasher.Busy() }
            await withCheckedContinuation { waiting.append($0) }
        }
        defer { release() }
        return try await body()
    }

    private func release() {
        if waiting.isEmpty {
            available += 1
        } else {
            // The permit passes straight to the next in line.
            waiting.removeFirst().resume()
        }
    }
}
