import Foundation
import MemberSyncHarness
import MemberSyncWire
import ZeroMQ

/// Shared state between benchmark threads. `@unchecked Sendable`: every access goes
/// through `lock`.
final class Shared<T>: @unchecked Sendable {
    private let lock = NSLock()
    private var value: T
    init(_ v: T) { value = v }
    func get() -> T { lock.lock(); defer { lock.unlock() }; return value }
    func set(_ v: T) { lock.lock(); value = v; lock.unlock() }
    func update<R>(_ body: (inout T) -> R) -> R { lock.lock(); defer { lock.unlock() }; return body(&value) }
}

/// Raw transport baseline: plain libzmq PUB/SUB through the project's ZeroMQ wrapper over
/// tcp on 127.0.0.1, two frames per message (the `MSP/1` signature and a payload of the given
/// size), publisher and subscriber on two threads of one process, no high-water-mark drops
/// (HWM 0 = unbounded queues). Rate = messages / (last received - first sent).
enum TransportBench {
    struct Result {
        let size: Int
        let messages: Int
        let received: Int
        let seconds: Double
        var rate: Double { Double(received) / seconds }
    }

    static func pubSub(size: Int, messages: Int) throws -> Result {
        let context = try ZMQContext()
        let port = LoopbackPorts.freePair()
        let endpoint = "tcp://127.0.0.1:\(port)"
        let pub = try ZMQSocket(context, .pub)
        try pub.setSendHighWaterMark(0)
        try pub.bind(endpoint)

        let ready = Shared(false)
        let warmed = Shared(false)
        let done = Shared<(count: Int, end: Double)?>(nil)
        let thread = Thread {
            do {
                let sub = try ZMQSocket(context, .sub)
                try sub.setReceiveHighWaterMark(0)
                try sub.setReceiveTimeout(milliseconds: 5000)
                try sub.subscribe(Array("MSP/".utf8))
                try sub.connect(endpoint)
                ready.set(true)
                var count = 0
                while count < messages {
                    guard let frames = try sub.receive() else { break }
                    if frames.count == 2 && frames[1].count == 1 {
                        warmed.set(true)
                        continue
                    }
                    count += 1
                }
                done.set((count, now()))
            } catch {
                done.set((0, now()))
            }
        }
        thread.start()
        _ = waitUntil(timeout: 5, interval: 0.005) { ready.get() }
        // Slow joiner: publish one-byte warm-up messages until the subscriber sees one.
        let warm: [[UInt8]] = [ProtocolVersion.signature, [0]]
        _ = waitUntil(timeout: 5, interval: 0.001) {
            _ = try? pub.send(warm)
            return warmed.get()
        }
        let frames: [[UInt8]] = [ProtocolVersion.signature, [UInt8](repeating: 0x5A, count: size)]
        let t0 = now()
        for _ in 0..<messages { try pub.send(frames) }
        _ = waitUntil(timeout: 120, interval: 0.0005) { done.get() != nil }
        let (count, end) = done.get() ?? (0, now())
        pub.close()
        return Result(size: size, messages: messages, received: count, seconds: end - t0)
    }

    static func run(_ report: Report, messages: Int, sizes: [Int]) throws {
        var details: [[String: Any]] = []
        for size in sizes {
            progress("transport: PUB/SUB \(messages) x \(size) B")
            let r = try pubSub(size: size, messages: messages)
            details.append(["payload_bytes": size, "messages": messages, "received": r.received, "seconds": r.seconds, "msgs_per_second": r.rate])
            report.add(ResultRow(benchmark: "Raw transport", metric: "libzmq PUB/SUB, \(size) B payload", value: r.rate, unit: "msgs/s",
                                 note: r.received < messages ? "\(messages - r.received) lost" : nil))
        }
        report.details["transport"] = details
    }
}
