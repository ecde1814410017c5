import Logging

/// Times the stages of a build for the debug log (`--log-level debug`), where a slow one shows.
struct StageClock {
    let logger: Logger
    private let clock = ContinuousClock()
    private var last: ContinuousClock.Instant

    init(logger: Logger) {
        self.logger = logger
        last = clock.now
    }

    mutating func lap(_ stage: String) {
        let now = clock.now
        let elapsed = now - last
        last = now
        let milliseconds = elapsed.milliseconds
        logger.debug("build stage done", metadata: ["stage": "\(stage)", "ms": "\(Int(milliseconds.rounded()))"])
    }
}

extension Duration {
    /// For the debug log's stage and feed times.
    var milliseconds: Double {
        Double(components.seconds) * 1000 + Double(components.attoseconds) / 1e15
    }
}
