import CZeroMQ

#if canImport(Glibc)
import Glibc
#endif

/// Waits on several sockets (and plain file descriptors, e.g. a wake-up pipe) at once.
/// Rebuild it when the socket set changes; polling is cheap, construction is too.
public struct Poller {
    public enum Item {
        case socket(ZMQSocket)
        case fileDescriptor(Int32)
    }

    /// What to wait for on an item. Writable matters for plain non-blocking descriptors
    /// (e.g. an HTTP client whose answer did not fit the kernel buffer at once).
    public struct Events: OptionSet, Sendable {
        public let rawValue: Int16
        public init(rawValue: Int16) { self.rawValue = rawValue }
        public static let readable = Events(rawValue: Int16(ZMQ_POLLIN))
        public static let writable = Events(rawValue: Int16(ZMQ_POLLOUT))
    }

    private var items: [zmq_pollitem_t] = []
    private var sockets: [ZMQSocket?] = []

    public init() {}

    /// Adds an item to wait on (for input, unless told otherwise); returns its index in
    /// `poll`'s result.
    @discardableResult
    public mutating func add(_ item: Item, events: Events = .readable) -> Int {
        var p = zmq_pollitem_t()
        switch item {
        case .socket(let s):
            p.socket = s.handle
            sockets.append(s)
        case .fileDescriptor(let fd):
            p.fd = fd
            sockets.append(nil)
        }
        p.events = events.rawValue
        items.append(p)
        return items.count - 1
    }

    public var count: Int { items.count }

    /// Waits up to `timeoutMilliseconds` (-1: forever) and returns the indices that are ready
    /// for what they were added with, or in error (so a broken descriptor is handled rather
    /// than ignored). An interrupted wait returns an empty list rather than an error.
    public mutating func poll(timeoutMilliseconds: Int) throws -> [Int] {
        for i in items.indices { items[i].revents = 0 }
        let rc = items.withUnsafeMutableBufferPointer { buf in
            zmq_poll(buf.baseAddress, Int32(buf.count), timeoutMilliseconds)
        }
        if rc < 0 {
            let err = ZMQError.last("zmq_poll")
            if err.isInterrupted { return [] }
            throw err
        }
        var ready: [Int] = []
        for (i, p) in items.enumerated() where p.revents & (p.events | Int16(ZMQ_POLLERR)) != 0 { ready.append(i) }
        return ready
    }
}
