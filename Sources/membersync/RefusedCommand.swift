import ArgumentParser
import Foundation
import MemberSyncControl

/// `membersync refused`: this node's own edits that another node refused (it answered the
/// Push with the reason, MSP 7.3) or that this node's rules now withhold (MSP 11.7). They
/// stay committed here but take no effect; the list survives restarts.
struct RefusedCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "refused",
        abstract: "List this node's edits that were refused, with the reason (newest first).",
        discussion: """
            An edit can be refused after this node accepted it: the hub's rules saw what this \
            node had not (a removal from a project, a revocation, a schema or clock problem). A \
            refused edit stays committed here without effect and is not pushed again and again. \
            HELD yes: the hub keeps it without effect, and it takes effect (and leaves this list) \
            if the rights change, e.g. when the lead adds this organisation back. HELD no: the \
            hub did not keep it; this node pushes it again only when the roster changes or the \
            link is re-established (or after a minute), and it leaves this list once accepted.
            """)
    @OptionGroup var options: NodeOptions

    func run() throws {
        try runReporting {
            let list = try options.client.request(Control.Refused())
            if options.json { Output.json(list); return }
            if list.isEmpty { print("no refused edits"); return }
            let rows = list.map { e -> [String] in
                [e.key ?? "?", e.summary, e.dot, e.reason, e.held ? "yes" : "no", e.at, e.detail]
            }
            print(Output.table(["KEY", "EDIT", "DOT", "REASON", "HELD", "WHEN", "DETAIL"], rows))
            print("\(list.count) refused edit(s)")
        }
    }
}
