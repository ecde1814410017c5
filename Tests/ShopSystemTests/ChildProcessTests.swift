import Foundation
import ShopSystem
import Testing

/// Real programs of the system, started the way ishop and its tests start every program.
@Suite("ChildProcess")
struct ChildProcessTests {
    @Test("Output, error and exit status come back; input goes in")
    func roundTrip() throws {
        let echoed = try ChildProcess.run("/bin/sh", arguments: ["-c", "cat; echo oops >&2; exit 3"], input: Array("hello\n".utf8))
        #expect(echoed.outputText == "hello\n")
        #expect(echoed.errorText == "oops\n")
        #expect(echoed.termination == .exited(3))
        #expect(!echoed.termination.succeeded)
        let plain = try ChildProcess.run("true")
        #expect(plain.termination.succeeded, "found in PATH")
    }

    @Test("Megabytes on both streams at once do not stall the child")
    func bothStreamsAtOnce() throws {
        let script = "head -c 3000000 /dev/zero; head -c 3000000 /dev/zero >&2; head -c 3000000 /dev/zero"
        let big = try ChildProcess.run("/bin/sh", arguments: ["-c", script])
        #expect(big.output.count == 6_000_000)
        #expect(big.error.count == 3_000_000)
        #expect(big.termination.succeeded)
    }

    @Test("The child inherits no descriptor but its standard three, and no blocked or ignored signal")
    func cleanChild() throws {
        // A descriptor of this process that is not close-on-exec: the child must not see it.
        // Numbered high, clear of the descriptors ls opens for itself.
        let opened = open("/dev/null", O_RDONLY)
        let leaked = fcntl(opened, F_DUPFD, 77)
        close(opened)
        defer { close(leaked) }
        #expect(leaked >= 77)
        let listing = try ChildProcess.run("/bin/sh", arguments: ["-c", "exec ls /proc/self/fd"])
        let descriptors = Set(listing.outputText.split(separator: "\n").compactMap { Int($0) })
        #expect(!descriptors.contains(Int(leaked)), "\(descriptors)")
        #expect(descriptors.isSuperset(of: [0, 1, 2]))
        // exec: grep reads its own status (a shell blocks signals while it waits for a child).
        let status = try ChildProcess.run("/bin/sh", arguments: ["-c", "exec grep -E '^Sig(Blk|Ign)' /proc/self/status"])
        let masks = status.outputText.split(separator: "\n").compactMap { $0.split(separator: "\t").last.flatMap { UInt64($0, radix: 16) } }
        // Signals 1-31 (bits 0-30): none blocked, none ignored. 32 and 33 are glibc's own, out of
        // any program's reach.
        #expect(masks.count == 2 && masks.allSatisfy { $0 & 0x7FFF_FFFF == 0 }, "\(status.outputText)")
    }

    @Test("A signal ends the child and is reported as one; a child in its own group is signalled with it")
    func signals() throws {
        let sleeper = try ChildProcess("sleep", arguments: ["30"], ownProcessGroup: true)
        #expect(sleeper.isRunning)
        sleeper.send(SIGTERM, toGroup: true)
        #expect(sleeper.wait() == .signalled(SIGTERM))
        #expect(!sleeper.isRunning)
        #expect(sleeper.wait() == .signalled(SIGTERM), "asked again, the same answer")
    }

    @Test("A child that exits without reading its input does not take this process down (no SIGPIPE)")
    func brokenPipe() throws {
        let finished = try ChildProcess.run("/bin/sh", arguments: ["-c", "exit 0"], input: [UInt8](repeating: 0x41, count: 4 << 20))
        #expect(finished.termination.succeeded)
    }

    @Test("A program that does not exist is an error naming it, not a crash")
    func missingProgram() {
        #expect(throws: ChildProcess.StartError.self) { try ChildProcess.run("/no/such/program") }
    }

    @Test("Lines are read as they come: the child's first line before it ends")
    func streaming() throws {
        let child = try ChildProcess("/bin/sh", arguments: ["-c", "echo ready; sleep 30"], output: .pipe)
        defer { child.stop() }
        let first = String(decoding: child.readChunk(child.standardOutput), as: UTF8.self)
        #expect(first == "ready\n")
        #expect(child.isRunning)
    }
}
