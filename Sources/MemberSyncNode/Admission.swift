import Foundation
import MemberSyncModel
import ZeroMQ

/// Admission of connecting nodes (CURVE + ZAP, RFC 27) and revocation.
extension Node {
    /// The node a CURVE public key belongs to, if it is admitted: this node itself, the
    /// configured hubs, peers and admin keys, and every roster entry that is not revoked.
    func admittedName(_ key: String) -> String? {
        if key == curve?.publicKey { return config.nodeID }
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
            logger.warning("connection refused: CURVE key not admitted", metadata: [
                "peer.address": "\(address)", "mechanism": "\(mechanism)", "curve.key": "\(key ?? "-")",
            ])
        }
        _ = try? zap.send([Array("1.0".utf8), frames[1], Array((who == nil ? "400" : "200").utf8),
                           Array((who == nil ? "key not in the roster" : "OK").utf8), Array((who ?? "").utf8), []])
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
        let revoked = currentlyRevoked()
        let newlyRevoked = revoked.subtracting(revokedNodes)
        revokedNodes = revoked
        guard !newlyRevoked.isEmpty, curve != nil else { return }
        logger.notice("node revoked: closing every connection so it cannot stay connected", metadata: ["node.id": "\(newlyRevoked.sorted().joined(separator: ","))"])
        router.close()
        publisher.close()
        do {
            (router, publisher) = try Self.makeServerSockets(context, config, curve)
            socketGeneration += 1
        } catch {
            logger.critical("cannot re-bind the server sockets after a revocation", metadata: ["error": "\(error)"])
        }
    }
}
