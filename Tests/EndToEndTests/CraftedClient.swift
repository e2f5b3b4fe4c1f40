import Foundation
import MemberSyncCrypto
import MemberSyncHarness
import MemberSyncModel
import MemberSyncWire
import ZeroMQ

#if canImport(Glibc)
import Glibc
#endif

/// What a hostile client holding a member's real keys can do: raw DEALER connections under
/// its own CURVE key, hand-made and validly signed ops. Shared by the hostile tests.
extension Federation {
    /// A raw DEALER speaking to `target`'s ROUTER (the hub by default) with the given CURVE key pair.
    func rawDealer(_ context: ZMQContext, identity: String, key: CurveKeyPair, to target: String = "brussels",
                   receiveHighWaterMark: Int32? = nil) throws -> ZMQSocket {
        let s = try ZMQSocket(context, .dealer)
        try s.setLinger(milliseconds: 0)
        if let receiveHighWaterMark { try s.setReceiveHighWaterMark(receiveHighWaterMark) }
        try s.setIdentity(Array(identity.utf8))
        try s.setReceiveTimeout(milliseconds: 1500)
        try s.makeCurveClient(serverKey: curveKeys[target]!, publicKey: key.publicKey, secretKey: key.secretKey)
        try s.connect(endpoint(target))
        return s
    }

    /// A node's real signing and CURVE key pairs, read from its data directory.
    func keys(of node: String) throws -> (SigningKeyPair, CurveKeyPair) {
        let dir = dataDir(node)
        let signHex = try String(contentsOfFile: dir + "/signing.key", encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines)
        let curveSecret = try String(contentsOfFile: dir + "/curve.key", encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines)
        return (try SigningKeyPair(secretKey: Hex.decode(signHex)!),
                CurveKeyPair(publicKey: CurveKeyPair.publicKey(forSecret: curveSecret)!, secretKey: curveSecret))
    }

    /// The resident set size of a running daemon (VmRSS), in bytes; 0 when it is not running.
    func residentBytes(_ node: String) -> Int {
        guard let pid = processes[node]?.processIdentifier else { return 0 }
        return ProcessUsage.memory(pid: pid)?.current ?? 0
    }
}

enum Crafted {
    static func hello(_ node: String) -> Message {
        .hello(Hello(nodeID: node, replica: ReplicaID(node: node, epoch: 1), role: "member", organisation: node,
                     softwareVersion: "0.1.0", version: VersionVector()))
    }

    /// An op made by a fresh replica `origin@epoch` through the model, signed with `signer` (or not).
    static func write(origin: String, epoch: UInt32, signer: SigningKeyPair?, _ key: String, _ changes: [FieldChange]) throws -> Op {
        var r = Replica(id: ReplicaID(node: origin, epoch: epoch), wallClock: { UInt64(Date().timeIntervalSince1970 * 1000) })
        if let signer { r.signer = { signer.sign(WireCodec.canonicalBytes($0)) } }
        return try r.write(try RecordKey(parsing: key), changes)
    }

    /// An op by `origin` with a chosen counter, HLC and field context, signed with `signer`:
    /// what a member holding its real key can send.
    static func op(_ origin: ReplicaID, counter: UInt64, hlc: HLC, _ key: String, _ field: String, _ value: String,
                   context: VersionVector = VersionVector(), signer: SigningKeyPair) throws -> Op {
        let dot = Dot(origin, counter)
        let r = Register(siblings: [Sibling(dot: dot, hlc: hlc, value: Value.string(value))], context: context)
        return try op(origin, counter: counter, hlc: hlc, key, fields: [field: .register(r)], signer: signer)
    }

    /// An op by `origin` carrying `fields` (plus `$exists`), signed with `signer`.
    static func op(_ origin: ReplicaID, counter: UInt64, hlc: HLC, _ key: String, fields: [String: FieldState],
                   signer: SigningKeyPair) throws -> Op {
        let dot = Dot(origin, counter)
        var all = fields
        all[Record.existsField] = .register(Register(siblings: [Sibling(dot: dot, hlc: hlc, value: Value.bool(true))], context: VersionVector()))
        var op = Op(origin: origin, counter: counter, hlc: hlc, key: try RecordKey(parsing: key), fields: all)
        op.signature = signer.sign(WireCodec.canonicalBytes(op))
        return op
    }

    /// A plain TCP connection to 127.0.0.1:`port` (a half-open or garbage-speaking client), or -1.
    static func tcpConnect(_ port: Int) -> Int32 {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { return -1 }
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_port = in_port_t(UInt16(port).bigEndian)
        addr.sin_addr.s_addr = inet_addr("127.0.0.1")
        let ok = withUnsafePointer(to: &addr) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) == 0 }
        }
        if !ok { close(fd); return -1 }
        return fd
    }
}
