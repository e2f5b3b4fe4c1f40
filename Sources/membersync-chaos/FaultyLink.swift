import Foundation
import MemberSyncHarness

#if canImport(Glibc)
import Glibc
#endif

/// A TCP relay between a node and its hub through which faults are injected: it can cut
/// the link (a network partition: every connection is dropped and new ones are refused) and
/// throttle it (a slow subscriber whose hub-side PUB queue overflows and drops messages).
///
/// `@unchecked Sendable`: state shared with the pump threads is guarded by `lock`.
final class FaultyLink: @unchecked Sendable {
    let listenPort: Int
    let targetPort: Int
    private let lock = NSLock()
    private var cut = false
    private var throttleMicroseconds: UInt32 = 0
    private var sockets: Set<Int32> = []
    private var listener: Int32 = -1
    private var stopped = false

    init(listenPort: Int, targetPort: Int) throws {
        self.listenPort = listenPort
        self.targetPort = targetPort
        listener = LoopbackPorts.listen(listenPort, backlog: 64, reuseAddress: true)
        guard listener >= 0 else { throw ChaosError("cannot listen on 127.0.0.1:\(listenPort)") }
        let t = Thread { [self] in acceptLoop() }
        t.start()
    }

    /// Partitions (true) or heals (false) the link.
    func setCut(_ value: Bool) {
        lock.lock()
        cut = value
        let open = sockets
        if value { sockets.removeAll() }
        lock.unlock()
        if value { for fd in open { shutdown(fd, Int32(SHUT_RDWR)) } }
    }

    /// Delays every chunk relayed by this many microseconds (0: full speed).
    func setThrottle(microseconds: UInt32) {
        lock.lock()
        throttleMicroseconds = microseconds
        lock.unlock()
    }

    func stop() {
        lock.lock()
        stopped = true
        let open = sockets
        sockets.removeAll()
        lock.unlock()
        shutdown(listener, Int32(SHUT_RDWR))
        close(listener)
        for fd in open { shutdown(fd, Int32(SHUT_RDWR)) }
    }

    private var isCut: Bool { lock.lock(); defer { lock.unlock() }; return cut || stopped }
    private var throttle: UInt32 { lock.lock(); defer { lock.unlock() }; return throttleMicroseconds }

    private func acceptLoop() {
        while true {
            let client = accept(listener, nil, nil)
            if client < 0 {
                if isCut && stopped { return }
                if errno == EINTR { continue }
                lock.lock(); let done = stopped; lock.unlock()
                if done { return }
                usleep(10_000)
                continue
            }
            if isCut { close(client); continue }
            let upstream = LoopbackPorts.connect(targetPort, timeoutSeconds: nil)
            if upstream < 0 { close(client); continue }
            lock.lock(); sockets.insert(client); sockets.insert(upstream); lock.unlock()
            let pair = Pair(a: client, b: upstream)
            Thread { [self] in pump(from: client, to: upstream, pair: pair) }.start()
            Thread { [self] in pump(from: upstream, to: client, pair: pair) }.start()
        }
    }

    /// Closes both ends once both pumps are done.
    final class Pair: @unchecked Sendable {
        let a: Int32, b: Int32
        private let lock = NSLock()
        private var finished = 0
        init(a: Int32, b: Int32) { self.a = a; self.b = b }
        func done() {
            lock.lock(); finished += 1; let last = finished == 2; lock.unlock()
            shutdown(a, Int32(SHUT_RDWR)); shutdown(b, Int32(SHUT_RDWR))
            if last { close(a); close(b) }
        }
    }

    private func pump(from: Int32, to: Int32, pair: Pair) {
        var buffer = [UInt8](repeating: 0, count: 16_384)
        defer {
            lock.lock(); sockets.remove(from); sockets.remove(to); lock.unlock()
            pair.done()
        }
        while true {
            let n = buffer.withUnsafeMutableBytes { read(from, $0.baseAddress, $0.count) }
            if n <= 0 || isCut { return }
            var sent = 0
            while sent < n {
                let w = buffer.withUnsafeBytes { send(to, $0.baseAddress! + sent, n - sent, Int32(MSG_NOSIGNAL)) }
                if w <= 0 { return }
                sent += w
            }
            let t = throttle
            if t > 0 { usleep(t) }
        }
    }
}

struct ChaosError: Error, CustomStringConvertible {
    let description: String
    init(_ d: String) { description = d }
}
