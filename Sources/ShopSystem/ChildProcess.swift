import CSystemCalls
import Synchronization
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A program that ishop (or its tests) starts and waits for: a build under test, a stand-in CDN,
/// later rsync, ssh or pg_dump.
///
/// It is started with posix_spawn (CSystemCalls' `ishop_spawn`) instead of Foundation's
/// `Process`, whose descriptor-closing loop over-reads a buffer on Linux before Swift 6.3.2
/// (swift-corelibs-foundation #5472) and crashed about one run in five of a suite that starts
/// processes in parallel. The child inherits no descriptor but its three standard ones, no
/// blocked signal and no ignored one, whatever thread of the parent started it.
public final class ChildProcess: @unchecked Sendable {
    /// Where one of the child's standard streams goes.
    public enum Stream: Sendable {
        /// /dev/null.
        case null
        /// A pipe this object holds the other end of.
        case pipe
        /// A file, created or truncated (for output) or read (for input).
        case file(String)
        /// This process's own descriptor of the same number.
        case inherit
    }

    /// How the child ended.
    public enum Termination: Equatable, Sendable, CustomStringConvertible {
        case exited(Int32)
        case signalled(Int32)

        public var succeeded: Bool { self == .exited(0) }

        /// The exit status, or nil when a signal ended it.
        public var status: Int32? {
            if case .exited(let status) = self { return status }
            return nil
        }

        public var description: String {
            switch self {
            case .exited(let status): "exit status \(status)"
            case .signalled(let signal): "signal \(signal)"
            }
        }
    }

    public struct StartError: Error, CustomStringConvertible {
        public let executable: String
        public let reason: String
        public var description: String { "could not start \(executable): \(reason)" }
    }

    /// What a finished `run` gives back.
    public struct Finished: Sendable {
        public let termination: Termination
        public let output: [UInt8]
        public let error: [UInt8]

        public var outputText: String { String(decoding: output, as: UTF8.self) }
        public var errorText: String { String(decoding: error, as: UTF8.self) }
    }

    public let processIdentifier: Int32
    /// The write end of the child's standard input when it was `.pipe`.
    public private(set) var standardInput: Int32?
    /// The read ends of its standard output and error when they were `.pipe`.
    public let standardOutput: Int32?
    public let standardError: Int32?
    private let ended = Mutex<Termination?>(nil)

    /// Starts `executable` (looked up in PATH when it has no slash) with `arguments`. The
    /// environment is this process's when `environment` is nil.
    public init(
        _ executable: String, arguments: [String] = [], environment: [String: String]? = nil, directory: String? = nil,
        input: Stream = .null, output: Stream = .null, error: Stream = .inherit, ownProcessGroup: Bool = false
    ) throws {
        if case .pipe = input { _ = Self.ignoresBrokenPipes }
        var parentEnds: [Int32?] = [nil, nil, nil]
        var childEnds: [Int32] = [-1, -1, -1]
        var opened: [Int32] = []
        func closeAll() { for descriptor in opened { close(descriptor) } }
        for (index, stream) in [input, output, error].enumerated() {
            let reading = index == 0
            switch stream {
            case .null:
                childEnds[index] = -1
            case .inherit:
                childEnds[index] = Int32(index)
            case .file(let path):
                let descriptor = reading
                    ? open(path, O_RDONLY | O_CLOEXEC)
                    : open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
                guard descriptor >= 0 else {
                    let reason = String(cString: strerror(errno))
                    closeAll()
                    throw StartError(executable: executable, reason: "\(path): \(reason)")
                }
                opened.append(descriptor)
                childEnds[index] = descriptor
            case .pipe:
                var ends: [Int32] = [-1, -1]
                guard ishop_pipe(&ends) == 0 else {
                    let reason = String(cString: strerror(errno))
                    closeAll()
                    throw StartError(executable: executable, reason: "pipe: \(reason)")
                }
                let (childEnd, parentEnd) = reading ? (ends[0], ends[1]) : (ends[1], ends[0])
                opened.append(childEnd)
                childEnds[index] = childEnd
                parentEnds[index] = parentEnd
            }
        }

        let environmentLines = environment.map { $0.map { "\($0.key)=\($0.value)" } }
        var pid: Int32 = 0
        let result = Self.withCStrings([executable] + arguments) { argv in
            Self.withOptionalCStrings(environmentLines) { envp in
                Self.withOptionalCString(directory) { folder in
                    ishop_spawn(executable, argv, envp ?? UnsafePointer(environ), folder, childEnds[0], childEnds[1], childEnds[2],
                                ownProcessGroup ? 1 : 0, &pid)
                }
            }
        }
        closeAll()
        guard result == 0 else {
            for case let descriptor? in parentEnds { close(descriptor) }
            throw StartError(executable: executable, reason: String(cString: strerror(result)))
        }
        processIdentifier = pid
        standardInput = parentEnds[0]
        standardOutput = parentEnds[1]
        standardError = parentEnds[2]
    }

    /// A child that exits without reading all of its input must not kill this process with
    /// SIGPIPE when it is written to: the write fails with EPIPE instead. (The child itself gets
    /// every signal at its default, SIGPIPE included: `ishop_spawn`.)
    private static let ignoresBrokenPipes: Void = { _ = signal(SIGPIPE, SIG_IGN) }()

    deinit {
        for case let descriptor? in [standardInput, standardOutput, standardError] { close(descriptor) }
    }

    /// Starts `executable`, gives it `input` on its standard input, collects its standard output
    /// and error (read together, so neither can fill its pipe and stall the child) and waits for it.
    public static func run(
        _ executable: String, arguments: [String] = [], environment: [String: String]? = nil, directory: String? = nil,
        input: [UInt8]? = nil
    ) throws -> Finished {
        let child = try ChildProcess(
            executable, arguments: arguments, environment: environment, directory: directory,
            input: input == nil ? .null : .pipe, output: .pipe, error: .pipe)
        let (output, error) = child.exchange(input ?? [])
        return Finished(termination: child.wait(), output: output, error: error)
    }

    /// Writes `input` to the child's standard input (then closes it) while reading its standard
    /// output and error to their ends, with poll.
    private func exchange(_ input: [UInt8]) -> (output: [UInt8], error: [UInt8]) {
        var output: [UInt8] = []
        var error: [UInt8] = []
        var written = 0
        if input.isEmpty { closeInput() }
        var open: [Int32: Bool] = [:]
        if let standardOutput { open[standardOutput] = true }
        if let standardError { open[standardError] = true }
        var buffer = [UInt8](repeating: 0, count: 65536)
        while standardInput != nil || open.values.contains(true) {
            var watched: [pollfd] = []
            if let standardInput { watched.append(pollfd(fd: standardInput, events: Int16(POLLOUT), revents: 0)) }
            for (descriptor, isOpen) in open where isOpen {
                watched.append(pollfd(fd: descriptor, events: Int16(POLLIN), revents: 0))
            }
            let ready = poll(&watched, nfds_t(watched.count), -1)
            if ready < 0 {
                if errno == EINTR { continue }
                break
            }
            for entry in watched where entry.revents != 0 {
                if entry.fd == standardInput {
                    let count = input[written...].withUnsafeBytes { write(entry.fd, $0.baseAddress, $0.count) }
                    if count > 0 { written += count }
                    if count < 0 && errno != EINTR && errno != EAGAIN || written == input.count { closeInput() }
                } else {
                    let count = buffer.withUnsafeMutableBytes { read(entry.fd, $0.baseAddress, $0.count) }
                    if count > 0 {
                        if entry.fd == standardOutput { output += buffer[0..<count] } else { error += buffer[0..<count] }
                    } else if count == 0 || errno != EINTR {
                        open[entry.fd] = false
                    }
                }
            }
        }
        return (output, error)
    }

    /// Closes the child's standard input, so that it reads its end.
    private func closeInput() {
        if let standardInput { close(standardInput) }
        standardInput = nil
    }

    /// The next bytes on `descriptor` (one of the read ends), waiting for them; empty at its end.
    public func readChunk(_ descriptor: Int32?) -> [UInt8] {
        guard let descriptor else { return [] }
        var buffer = [UInt8](repeating: 0, count: 65536)
        while true {
            let count = buffer.withUnsafeMutableBytes { read(descriptor, $0.baseAddress, $0.count) }
            if count >= 0 { return Array(buffer[0..<count]) }
            if errno != EINTR { return [] }
        }
    }

    /// Sends `signal` to the child (or to its whole group when it was started in one of its own).
    public func send(_ signal: Int32, toGroup: Bool = false) {
        guard !hasEnded else { return }
        _ = toGroup ? kill(-processIdentifier, signal) : kill(processIdentifier, signal)
    }

    /// Whether the child is still running (reaps it when it has ended).
    public var isRunning: Bool {
        ended.withLock { termination in
            if termination != nil { return false }
            var status: Int32 = 0
            let reaped = waitpid(processIdentifier, &status, WNOHANG)
            guard reaped == processIdentifier else { return reaped == 0 }
            termination = Self.termination(status)
            return false
        }
    }

    private var hasEnded: Bool { ended.withLock { $0 != nil } }

    /// Waits for the child to end.
    @discardableResult
    public func wait() -> Termination {
        if let known = ended.withLock({ $0 }) { return known }
        var status: Int32 = 0
        while true {
            let reaped = waitpid(processIdentifier, &status, 0)
            if reaped == processIdentifier { break }
            if reaped < 0 && errno != EINTR {
                // Reaped already by isRunning on another thread.
                if let known = ended.withLock({ $0 }) { return known }
                return .exited(-1)
            }
        }
        let termination = Self.termination(status)
        ended.withLock { $0 = termination }
        return termination
    }

    /// Kills the child if it still runs and waits for it.
    public func stop(_ signal: Int32 = SIGKILL) {
        if isRunning { send(signal) }
        wait()
    }

    private static func termination(_ status: Int32) -> Termination {
        let signal = status & 0x7f
        return signal == 0 ? .exited((status >> 8) & 0xff) : .signalled(signal)
    }

    private static func withCStrings<R>(_ strings: [String], _ body: (UnsafePointer<UnsafeMutablePointer<CChar>?>) -> R) -> R {
        var pointers: [UnsafeMutablePointer<CChar>?] = strings.map { strdup($0) }
        pointers.append(nil)
        defer { for pointer in pointers { free(pointer) } }
        return pointers.withUnsafeBufferPointer { body($0.baseAddress!) }
    }

    private static func withOptionalCStrings<R>(_ strings: [String]?, _ body: (UnsafePointer<UnsafeMutablePointer<CChar>?>?) -> R) -> R {
        guard let strings else { return body(nil) }
        return withCStrings(strings) { body($0) }
    }

    private static func withOptionalCString<R>(_ string: String?, _ body: (UnsafePointer<CChar>?) -> R) -> R {
        guard let string else { return body(nil) }
        return string.withCString { body($0) }
    }
}
