import Foundation
import MemberSyncConfig
import MemberSyncControl
import MemberSyncEngine
import MemberSyncNode

/// How a benchmark's federation runs. Secure is the product (CURVE on every inter-node socket,
/// admission by the hub's roster, Ed25519-signed ops verified by every receiver, write rules):
/// it is the headline row. Insecure (`insecure = true`, the opt-out for trusted test
/// networks) is measured in the same run as the second row, so the cost of security is a ratio.
enum Security: String, CaseIterable {
    case secure, insecure

    /// Secure first: the headline row comes first in the report.
    static let headlineFirst: [Security] = [.secure, .insecure]

    /// Makes `config` run this way. Secure: the node's key pairs are created in its data
    /// directory (`NodeKeys`, as `membersync init` does) and the node trusts each hub's CURVE
    /// key and signing key, read from the hub's data directory, so hubs are prepared first.
    func prepare(_ config: inout NodeConfig, hubs: [(name: String, dataDir: String)]) throws {
        switch self {
        case .insecure:
            config.insecure = true
        case .secure:
            config.insecure = false
            _ = try NodeKeys.ensureKeys(dataDir: config.dataDir)
            for hub in hubs {
                let keys = try Self.keys(hub.dataDir)
                config.hubKeys.append(keys.curve)
                config.hubSigningKeys[hub.name] = keys.signing
            }
        }
    }

    static func keys(_ dataDir: String) throws -> NodeKeys.PublicKeys {
        guard let keys = try NodeKeys.checkKeys(dataDir: dataDir) else { throw BenchFailure("no keys in \(dataDir)") }
        return keys
    }

    /// The hub operator admits a member, with the requests `membersync set
    /// organisations/ORG name=...` and `membersync hub admit NODE --organisation ORG
    /// --signing-key ... --curve-key ...` send to the hub's control socket. Insecure: nothing.
    func admit(_ member: String, organisation: String, dataDir: String, hub: ControlClient) throws {
        guard self == .secure else { return }
        let keys = try Self.keys(dataDir)
        do {
            _ = try hub.call(Control.SetFields(key: "organisations/\(organisation)", changes: ["name=\(organisation)"]))
            _ = try hub.call(Control.Admit(nodeID: member, organisation: organisation, role: "member", curveKey: keys.curve, signingKey: keys.signing))
        } catch {
            throw BenchFailure("admitting \(member): \(error.message)")
        }
    }

    /// Ops a node refused or still holds back, from its `status`: remote ops refused by the
    /// signature or write-rule checks (`ops_rejected` under the reasons of `AuthRejection`)
    /// and ops waiting for their causal past. A benchmark whose ops were refused has not
    /// measured what it claims, so every end-to-end benchmark fails on any. Other reasons
    /// are flow control, not refusals: a live op too far ahead of what the node holds
    /// (`gap-too-large`, after the PUB queue dropped messages under load) is dropped and
    /// fetched again by Pull; they are listed in `text` but not counted.
    static func refusals(_ status: StatusResult) -> (count: Int, text: String) {
        let rejected = status.opsRejected.mapValues { Int($0) }.filter { $0.value > 0 }
        let waiting = status.opsWaiting
        let total = rejected.filter { securityReasons.contains($0.key) }.values.reduce(0, +) + waiting
        let text = rejected.sorted { $0.key < $1.key }.map { "\($0.key) \($0.value)" }.joined(separator: ", ")
        return (total, "rejected: [\(text)], waiting: \(waiting)")
    }

    /// The reasons `AuthRejection` gives (MemberSyncEngine/Authorisation.swift).
    static let securityReasons: Set<String> = ["unknown-origin", "revoked", "bad-signature", "unauthorised"]
}
