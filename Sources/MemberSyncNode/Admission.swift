import Foundation
import Logging
import MemberSyncEngine
import MemberSyncModel
import MemberSyncWire
import ZeroMQ

/// Admission of connecting nodes (CURVE + ZAP, RFC 27) and revocation.
extension Node {
    /// The node a CURVE public key belongs to, if it is admitted: this node itself, the
    /// configured hubs, peers and admin keys, and every roster entry that is not revoked.
    func admittedName(_ key: String) -> String? {
        if key == curve?.publicKey { return config.nodeID }
        // The roster's revocation outranks the configuration: a revoked member listed in
        // `peer_keys` (or anywhere else) would otherwise keep syncing through its peers.
        if revokedCurveKeys[key] != nil { return nil }
        if config.adminKeys.contains(key) { return "admin" }
        if config.hubKeys.contains(key) { return "hub" }
        if config.peerKeys.contains(key) { return "peer" }
        return rosterCurveKeys[key]
    }

    func currentRosterCurveKeys() -> [String: String] {
        let replica = engine.replica
        var out: [String: String] = [:]
        for k in replica.keys(in: "nodes") {
            guard let r = replica.record(k), !WriteAuthority.isRevoked(r), let key = WriteAuthority.text(r, "curve_key") else { continue }
            out[key] = k.id
        }
        return out
    }

    /// Answers one ZAP request: 200 for an admitted CURVE key, 400 otherwise.
    func serveZAP() {
        guard let zap, let frames = try? zap.receive(dontWait: true) else { return }
        // version, request id, domain, address, identity, mechanism, credentials...
        guard frames.count >= 6 else {
            _ = try? zap.send([Array("1.0".utf8), frames.count > 1 ? frames[1] : [], Array("500".utf8), Array("malformed ZAP request".utf8), [], []])
            return
        }
        let mechanism = String(decoding: frames[5], as: UTF8.self)
        let address = String(decoding: frames[3], as: UTF8.self)
        var key: String?
        if mechanism == "CURVE", frames.count >= 7 { key = CurveKeyPair.z85(frames[6]) }
        let who = key.flatMap { admittedName($0) }
        if who == nil {
            dropped["zap-refused", default: 0] += 1
            // A refused client retries every few seconds (or faster): one line per key and window.
            let verdict = handshakeLogLimiter.check("zap \(key ?? address)", now: wallClockMilliseconds())
            if verdict.log {
                var m: Logger.Metadata = ["peer.address": "\(address)", "mechanism": "\(mechanism)", "curve.key": "\(key ?? "-")"]
                if let key, let owner = revokedCurveKeys[key] {
                    m["peer.id"] = "\(owner)"
                    m["reason"] = "revoked"
                } else {
                    m["reason"] = "not in the roster"
                }
                if verdict.heldBack > 0 { m["unlogged_since_last"] = "\(verdict.heldBack)" }
                logger.warning("CURVE handshake refused: key not admitted", metadata: m)
            }
        }
        _ = try? zap.send([Array("1.0".utf8), frames[1], Array((who == nil ? "400" : "200").utf8),
                           Array((who == nil ? "key not in the roster" : "OK").utf8), Array((who ?? "").utf8), []])
    }

    /// CURVE keys of revoked roster entries, with their node: refused at ZAP whatever the
    /// configuration lists, and named in the refusal's log line.
    func currentRevokedCurveKeys() -> [String: String] {
        let replica = engine.replica
        var out: [String: String] = [:]
        for k in replica.keys(in: "nodes") {
            guard let r = replica.record(k), WriteAuthority.isRevoked(r) else { continue }
            // Every value a concurrent write left, not just the visible one (fail closed).
            for s in r.register("curve_key").siblings { if case .string(let key) = s.value { out[key] = k.id } }
        }
        return out
    }

    /// True when the roster this node holds revokes this node itself.
    var isRevokedItself: Bool {
        engine.replica.record(RecordKey(collection: "nodes", id: config.nodeID)).map(WriteAuthority.isRevoked) ?? false
    }

    func currentlyRevoked() -> Set<String> {
        let replica = engine.replica
        return Set(replica.keys(in: "nodes").filter { replica.record($0).map(WriteAuthority.isRevoked) ?? false }.map(\.id))
    }

    /// After a roster change: when a node was newly revoked, re-create the ROUTER and PUB so
    /// every existing connection is closed. libzmq cannot close one peer's connection on a
    /// bound socket, so all peers reconnect (within the reconnect interval) and pass the ZAP
    /// handler again, which now refuses the revoked key; anti-entropy repairs anything lost.
    func rosterChanged() {
        rosterCurveKeys = currentRosterCurveKeys()
        revokedCurveKeys = currentRevokedCurveKeys()
        let revoked = currentlyRevoked()
        let newlyRevoked = revoked.subtracting(revokedNodes)
        revokedNodes = revoked
        refreshPeerTargets()
        guard !newlyRevoked.isEmpty, curve != nil else { return }
        tellRevoked(newlyRevoked)
        dropLinksToRevoked()
        logger.notice("node revoked: closing every connection so it cannot stay connected", metadata: ["node.id": "\(newlyRevoked.sorted().joined(separator: ","))"])
        router.close(monitor: routerMonitor)
        routerMonitor = nil
        publisher.close()
        do {
            (router, publisher) = try Self.makeServerSockets(context, config, curve)
            routerMonitor = try router.monitor(context, name: nextMonitorName())
            socketGeneration += 1
        } catch {
            logger.critical("cannot re-bind the server sockets after a revocation", metadata: ["error": "\(error)"])
        }
    }

    /// Sends a newly revoked node that is connected to us the roster ops of its own entry,
    /// before its connection is closed: afterwards nothing reaches it, and without them it
    /// would never learn why (its `status` says `revoked` once it holds them, and it refuses
    /// its own edits). Best effort: the socket's linger gives them 200 ms to leave.
    func tellRevoked(_ nodes: Set<String>) {
        for node in nodes {
            guard let client = engine.clients[node] else { continue }
            for op in engine.replica.heldOps(for: RecordKey(collection: "nodes", id: node)) {
                _ = try? router.send([client.identity] + WireCodec.encode(.op(op)), dontWait: true)
            }
        }
    }

    /// Replaces this node's links to hubs or peers whose configured CURVE key the roster now
    /// revokes with unconnected sockets (`makeLink` connects no revoked key): nothing of ours
    /// reaches a revoked node through a link we opened either.
    /// (Peers named by id are dropped by `refreshPeerTargets`, as their entry is revoked.)
    func dropLinksToRevoked() {
        let links = hubLinks.indices.map { LinkID.hub($0) } + peerLinks.indices.map { LinkID.peer($0) }
        for l in links {
            guard let key = target(l).serverKey, revokedCurveKeys[key] != nil else { continue }
            try? replaceLink(l)
        }
    }
}
