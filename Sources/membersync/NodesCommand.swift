import ArgumentParser
import Foundation
import MemberSyncControl

/// `membersync nodes`: the nodes this node knows (roster, hello, its own hubs and peers) and
/// whether each is online as this node sees it. Unlike `hub nodes`, it is meant for members:
/// a member hears its hubs and peers directly and knows the others only from the roster.
struct NodesCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "nodes",
        abstract: "List the nodes this node knows and whether each is online as this node sees it.",
        discussion: """
            ONLINE is yes when this node heard from the node within the link timeout, directly: as its \
            hub or peer (VIA hub link, peer link) or as a node connected to it (VIA client). A member \
            hears only its hubs, its peers and nodes that connect to it; other nodes of the roster show \
            as not seen here. BEHIND counts ops this node holds that the other is not known to hold.
            """)
    @OptionGroup var options: NodeOptions

    func run() throws {
        try runReporting {
            let nodes = try options.client.request(Control.Nodes())
            if options.json { Output.json(nodes); return }
            let rows = nodes.map { n -> [String] in
                let me = n.isSelf
                let via = (n.via ?? []).joined(separator: ", ")
                var online = n.online ? "yes" : (n.lastSeen == nil ? "not seen here" : "no")
                if me { online = "yes (this node)" }
                if n.revoked ?? false { online += ", revoked" }
                return [n.nodeID, n.organisation ?? "-", n.role ?? "-", online,
                        me ? "-" : n.lastSeen ?? "-", via.isEmpty ? "-" : via,
                        me ? "-" : n.opsBehind.map { "\($0)" } ?? "-"]
            }
            print(Output.table(["NODE", "ORGANISATION", "ROLE", "ONLINE", "LAST SEEN", "VIA", "BEHIND"], rows))
            let online = nodes.filter { $0.online && !$0.isSelf }.count
            print("\(nodes.count) node(s), \(online) online besides this one")
        }
    }
}
