import Foundation
import MemberSyncConfig
import MemberSyncEngine
import MemberSyncModel
import MemberSyncWire
import ZeroMQ

/// The sockets of one link this node opens to a hub or a fallback peer.
struct Link {
    let dealer: ZMQSocket
    let sub: ZMQSocket
    /// The dealer's handshake events (secure nodes only): libzmq reports a refused CURVE
    /// handshake nowhere else (HandshakeLog.swift).
    let monitor: ZMQSocket?

    func close() {
        dealer.close(monitor: monitor)
        sub.close()
    }
}

/// Where a link connects and the CURVE key its server must hold. A nil endpoint leaves the
/// link unconnected: a peer named by node id whose roster entry has not arrived (or lacks an
/// endpoint or key), or that the roster revokes.
struct LinkTarget: Equatable {
    var endpoint: String?
    var serverKey: String?
    /// The node at the other end, when the configuration names it.
    var nodeID: String?
}

extension Node {
    /// What `l` should connect to now: hubs and peers given by endpoint as configured, peers
    /// named by id as their roster entry says (kept in `peerTargets`, see `refreshPeerTargets`).
    func target(_ l: LinkID) -> LinkTarget {
        switch l {
        case .hub(let i):
            return LinkTarget(endpoint: config.hubEndpoints[i], serverKey: config.hubKeys.indices.contains(i) ? config.hubKeys[i] : nil)
        case .peer(let i):
            return peerTargets[i]
        }
    }

    /// The target of `peers[i]` from the configuration, or for a node id from the roster.
    func resolvePeer(_ i: Int) -> LinkTarget {
        switch config.peerEntries[i] {
        case .endpoint(let e):
            return LinkTarget(endpoint: e, serverKey: config.configuredPeerKey(i))
        case .node(let id):
            return rosterTarget(id)
        }
    }

    /// A node's endpoint and CURVE key from its roster entry; no endpoint while the entry is
    /// absent, revoked, holds no valid endpoint, or (on a secure node) no CURVE key. Of
    /// several endpoints the first in sorted order is used.
    func rosterTarget(_ id: String) -> LinkTarget {
        var out = LinkTarget(nodeID: id)
        guard let record = engine.replica.record(RecordKey(collection: "nodes", id: id)), record.exists,
              !WriteAuthority.isRevoked(record) else { return out }
        let key = WriteAuthority.text(record, "curve_key")
        if curve != nil && key == nil { return out }
        let endpoints = record.set("endpoints").members.sorted().filter { (try? Endpoint.publisher(for: $0)) != nil }
        guard let endpoint = endpoints.first else { return out }
        out.endpoint = endpoint
        out.serverKey = curve == nil ? nil : key
        return out
    }

    /// After a roster change: peers named by id whose entry now gives another endpoint or key
    /// (it arrived, changed, or was revoked) get new sockets, so a new member's peer link comes
    /// up once the hub's roster reaches it and a revoked peer is dropped.
    func refreshPeerTargets() {
        for i in config.peers.indices {
            guard case .node(let id) = config.peerEntries[i] else { continue }
            let fresh = resolvePeer(i)
            guard fresh != peerTargets[i] else { continue }
            peerTargets[i] = fresh
            engine.repointPeer(i, endpoint: fresh.endpoint ?? id)
            handshakeFailures[.peer(i)] = nil  // it was about the old endpoint or key
            do { try replaceLink(.peer(i)) } catch {
                logger.error("cannot re-create a peer link", metadata: ["peer.id": "\(id)", "error": "\(error)"])
                continue
            }
            if let endpoint = fresh.endpoint {
                logger.notice("fallback peer taken from the roster", metadata: [
                    "peer.id": "\(id)", "endpoint": "\(endpoint)", "curve.key": "\(fresh.serverKey ?? "-")"])
            } else {
                logger.notice("fallback peer not connected: the roster revokes it or gives it no endpoint and CURVE key",
                              metadata: ["peer.id": "\(id)"])
            }
        }
    }

    /// Closes `l`'s sockets and opens new ones to its current target.
    func replaceLink(_ l: LinkID) throws {
        let fresh = try makeLink(target(l))
        switch l {
        case .hub(let i): hubLinks[i].close(); hubLinks[i] = fresh
        case .peer(let i): peerLinks[i].close(); peerLinks[i] = fresh
        }
        socketGeneration += 1
    }

    func makeLink(_ target: LinkTarget) throws -> Link {
        let serverKey = target.serverKey
        let dealer = try ZMQSocket(context, .dealer)
        if let curve, let serverKey {
            try dealer.makeCurveClient(serverKey: serverKey, publicKey: curve.publicKey, secretKey: curve.secretKey)
        }
        try dealer.setIdentity(Array(config.nodeID.utf8))
        try dealer.setImmediate(true)
        try dealer.setReconnectInterval(milliseconds: 100, max: 2000)
        try dealer.setHeartbeat(intervalMilliseconds: 1000, timeoutMilliseconds: 5000)
        try dealer.setMaxMessageSize(Int64(WireLimits.maxMessageBytes + 1024))
        try dealer.setSendHighWaterMark(10_000)
        // Before connecting, so the first handshake's outcome is seen too.
        let monitor = curve == nil ? nil : try dealer.monitor(context, name: nextMonitorName())
        // A link to a node the roster revokes is never connected (Admission.swift).
        let revoked = serverKey.map { revokedCurveKeys[$0] != nil } ?? false
        let endpoint = revoked ? nil : target.endpoint
        if let endpoint { try dealer.connect(endpoint) }
        let sub = try ZMQSocket(context, .sub)
        if let curve, let serverKey {
            try sub.makeCurveClient(serverKey: serverKey, publicKey: curve.publicKey, secretKey: curve.secretKey)
        }
        try sub.setMaxMessageSize(Int64(WireLimits.maxMessageBytes + 1024))
        try sub.setReconnectInterval(milliseconds: 100, max: 2000)
        try sub.setReceiveHighWaterMark(100_000)
        try sub.subscribe(Array("MSP/".utf8))
        if let endpoint { try sub.connect(try Endpoint.publisher(for: endpoint)) }
        return Link(dealer: dealer, sub: sub, monitor: monitor)
    }

    /// A fresh inproc name per monitor: a closed socket's monitor address is not reusable.
    func nextMonitorName() -> String {
        monitorSerial += 1
        return "\(config.nodeID)-\(monitorSerial)"
    }
}
