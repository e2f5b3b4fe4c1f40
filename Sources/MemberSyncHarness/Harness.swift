import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// Deterministic randomness (SplitMix64), so a seeded test or chaos run replays exactly.
public struct SeededRandom: RandomNumberGenerator, Sendable {
    public var state: UInt64
    public init(seed: UInt64) { state = seed }
    public mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

/// What a finished command printed and how it exited.
public struct CommandResult: Sendable {
    public let status: Int32
    public let stdout: String
    public let stderr: String
    /// The command was still running at its time limit and was killed.
    public var timedOut = false
    public var json: Any? { try? JSONSerialization.jsonObject(with: Data(stdout.utf8), options: [.fragmentsAllowed]) }
}

/// Runs programs for tests and tools: output to files (nothing can block on a full pipe), no
/// input (never the caller's), and a hard time limit, after which the program is killed.
public enum CommandRunner {
    /// `environment` adds variables; `mergingStderr` writes both streams into `stdout`, in the
    /// order the program wrote them (as a terminal shows them).
    public static func run(_ executable: String, _ args: [String], timeout: TimeInterval, scratchDir: String,
                           environment: [String: String] = [:], mergingStderr: Bool = false) -> CommandResult {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: executable)
        p.arguments = args
        if !environment.isEmpty {
            p.environment = ProcessInfo.processInfo.environment.merging(environment) { _, new in new }
        }
        let base = scratchDir + "/cmd-\(UUID().uuidString)"
        FileManager.default.createFile(atPath: base + ".out", contents: nil)
        FileManager.default.createFile(atPath: base + ".err", contents: nil)
        defer {
            try? FileManager.default.removeItem(atPath: base + ".out")
            try? FileManager.default.removeItem(atPath: base + ".err")
        }
        guard let out = FileHandle(forWritingAtPath: base + ".out"), let err = FileHandle(forWritingAtPath: base + ".err") else {
            return CommandResult(status: -1, stdout: "", stderr: "cannot create output files in \(scratchDir)")
        }
        p.standardInput = FileHandle.nullDevice
        p.standardOutput = out
        p.standardError = mergingStderr ? out : err
        do { try p.run() } catch { return CommandResult(status: -1, stdout: "", stderr: "\(error)") }
        let deadline = Date().addingTimeInterval(timeout)
        while p.isRunning && Date() < deadline { usleep(2000) }
        let timedOut = p.isRunning
        if timedOut { kill(p.processIdentifier, SIGKILL) }
        p.waitUntilExit()
        try? out.close()
        try? err.close()
        return CommandResult(status: p.terminationStatus,
                             stdout: String(decoding: FileManager.default.contents(atPath: base + ".out") ?? Data(), as: UTF8.self),
                             stderr: String(decoding: FileManager.default.contents(atPath: base + ".err") ?? Data(), as: UTF8.self),
                             timedOut: timedOut)
    }
}

/// Loopback ports and sockets for test federations, the chaos tool's relays and HTTP tests.
public enum LoopbackPorts {
    public static func address(_ port: Int) -> sockaddr_in {
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_port = in_port_t(UInt16(port).bigEndian)
        addr.sin_addr.s_addr = inet_addr("127.0.0.1")
        return addr
    }

    /// A TCP socket bound to 127.0.0.1:`port`; -1 when the port is taken.
    static func bound(_ port: Int, reuseAddress: Bool = false) -> Int32 {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { return -1 }
        if reuseAddress {
            var one: Int32 = 1
            setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, socklen_t(MemoryLayout<Int32>.size))
        }
        var addr = address(port)
        let rc = withUnsafePointer(to: &addr) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        if rc != 0 { close(fd); return -1 }
        return fd
    }

    public static func canBind(_ port: Int) -> Bool {
        let fd = bound(port)
        guard fd >= 0 else { return false }
        close(fd)
        return true
    }

    /// A listening TCP socket on 127.0.0.1:`port` (a relay's, or one that holds the port so
    /// that something else cannot bind it); -1 when the port is taken.
    public static func listen(_ port: Int, backlog: Int32 = 1, reuseAddress: Bool = false) -> Int32 {
        let fd = bound(port, reuseAddress: reuseAddress)
        guard fd >= 0 else { return -1 }
        if Glibc.listen(fd, backlog) != 0 { close(fd); return -1 }
        return fd
    }

    /// A blocking TCP connection to 127.0.0.1:`port` whose reads give up after
    /// `timeoutSeconds` (nil: never); -1 when it cannot connect.
    public static func connect(_ port: Int, timeoutSeconds: Double?) -> Int32 {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { return -1 }
        if let timeoutSeconds {
            let whole = timeoutSeconds.rounded(.down)
            var timeout = timeval(tv_sec: Int(whole), tv_usec: Int((timeoutSeconds - whole) * 1_000_000))
            setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        }
        var addr = address(port)
        let rc = withUnsafePointer(to: &addr) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { Glibc.connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        if rc != 0 { close(fd); return -1 }
        return fd
    }

    /// Everything the peer sends until it closes the connection (or a read times out).
    public static func readToEnd(_ fd: Int32) -> String {
        var bytes: [UInt8] = []
        var buf = [UInt8](repeating: 0, count: 65536)
        while true {
            let n = buf.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
            if n <= 0 { break }
            bytes += buf[0..<n]
        }
        return String(decoding: bytes, as: UTF8.self)
    }

    /// Where free ports are picked: below the kernel's ephemeral range, whose ports any
    /// outgoing connection (a node dialling another) may take as its own local port between
    /// the pick and the node's bind, which failed a node's start with "Address already in use".
    static let pickedPorts: Range<Int> = {
        let range = (try? String(contentsOfFile: "/proc/sys/net/ipv4/ip_local_port_range", encoding: .utf8)) ?? ""
        let ephemeralStart = range.split(whereSeparator: \.isWhitespace).first.flatMap { Int($0) } ?? 32_768
        return 10_000..<max(ephemeralStart, 20_000)
    }()

    /// A port P with P+1 also free (a node's ROUTER and PUB), avoiding `taken`.
    public static func freePair(avoiding taken: Set<Int> = []) -> Int {
        for _ in 0..<500 {
            let p = Int.random(in: pickedPorts.lowerBound..<(pickedPorts.upperBound - 1))
            if !taken.contains(p), !taken.contains(p + 1), canBind(p), canBind(p + 1) { return p }
        }
        return 47_000
    }
}

/// Polls `condition` every `interval` seconds until it holds or `timeout` seconds pass (on the
/// monotonic clock); true when it held. The one wait of the tests, the chaos tool and the
/// benchmarks.
public func waitUntil(timeout: Double, interval: Double = 0.05, _ condition: () -> Bool) -> Bool {
    let deadline = MonotonicClock.seconds() + timeout
    while MonotonicClock.seconds() < deadline {
        if condition() { return true }
        if interval > 0 { usleep(UInt32(interval * 1_000_000)) }
    }
    return condition()
}

/// Monotonic seconds (CLOCK_MONOTONIC): for deadlines and durations that a change of the wall
/// clock cannot move.
public enum MonotonicClock {
    public static func seconds() -> Double {
        var ts = timespec()
        clock_gettime(CLOCK_MONOTONIC, &ts)
        return Double(ts.tv_sec) + Double(ts.tv_nsec) / 1e9
    }
}

/// What a running process uses, read from /proc (Linux).
public enum ProcessUsage {
    /// Peak (VmHWM) and current (VmRSS) resident set size in bytes; nil when the process is gone.
    public static func memory(pid: Int32) -> (peak: Int, current: Int)? {
        guard let text = try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8) else { return nil }
        func kb(_ field: String) -> Int? {
            guard let line = text.split(separator: "\n").first(where: { $0.hasPrefix(field + ":") }) else { return nil }
            return line.split(separator: " ", omittingEmptySubsequences: true).dropFirst().first.flatMap { Int($0) }.map { $0 * 1024 }
        }
        guard let peak = kb("VmHWM"), let cur = kb("VmRSS") else { return nil }
        return (peak, cur)
    }

    /// CPU seconds (user + system) the process has used so far, from /proc/PID/stat. On a
    /// machine shared with other builds a process waits for a core much of the time; the CPU it
    /// used is what the software costs, whatever the competition.
    public static func cpuSeconds(pid: Int32) -> Double? {
        guard let text = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
              let close = text.lastIndex(of: ")") else { return nil }
        // Fields after "(comm)": state is field 3, utime 14, stime 15.
        let fields = text[text.index(after: close)...].split(separator: " ")
        guard fields.count > 13, let user = Double(fields[11]), let system = Double(fields[12]) else { return nil }
        return (user + system) / Double(sysconf(Int32(_SC_CLK_TCK)))
    }
}

/// Starts `membersyncd --config CONFIG` with stdout and stderr appended to `logPath`, so a
/// restarted node's log continues in the same file. Readiness is the caller's to check.
/// `environment` adds variables (a crash test's `MEMBERSYNC_CRASH_AT`); `arguments` adds flags.
public enum DaemonLauncher {
    public static func launch(binDir: String, config: String, logPath: String, arguments: [String] = [],
                              environment: [String: String] = [:]) throws -> Process {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: binDir + "/membersyncd")
        p.arguments = ["--config", config] + arguments
        if !environment.isEmpty {
            p.environment = ProcessInfo.processInfo.environment.merging(environment) { _, new in new }
        }
        if !FileManager.default.fileExists(atPath: logPath) { FileManager.default.createFile(atPath: logPath, contents: nil) }
        let log = try FileHandle(forWritingTo: URL(fileURLWithPath: logPath))
        log.seekToEndOfFile()
        p.standardOutput = log
        p.standardError = log
        try p.run()
        return p
    }
}

/// Simulated time in Unix milliseconds: a settable clock that the wall-clock closures of a
/// simulation's replicas and engines read, so their timestamps move on with the simulation
/// (the engine tests' simulated network, the scale benchmark, clock tests). A reference, so
/// every closure reads the one value; thread safe.
public final class SimulatedClock: @unchecked Sendable {
    private let lock = NSLock()
    private var value: UInt64

    public init(milliseconds: UInt64) { value = milliseconds }

    public var milliseconds: UInt64 {
        get { lock.lock(); defer { lock.unlock() }; return value }
        set { lock.lock(); value = newValue; lock.unlock() }
    }

    public func advance(by milliseconds: UInt64) {
        lock.lock(); value += milliseconds; lock.unlock()
    }
}
