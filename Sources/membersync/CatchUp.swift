import ArgumentParser
import Foundation
import MemberSyncControl
import MemberSyncDirectory

#if canImport(Glibc)
import Glibc
#endif

struct CatchUp: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "catch-up",
        abstract: "Wait until this node holds everything its hub (or its peers) holds and the hub has acknowledged its edits.",
        discussion: "Shows a progress bar on a terminal. Exit status: 0 caught up, 1 timed out.")
    @OptionGroup var options: NodeOptions
    @Option(help: "Give up after this many seconds.") var timeout: Double = 120

    func run() throws {
        try runReporting {
            let client = options.client
            let started = Date()
            var bar = ProgressBar(label: "catching up", unit: "ops", json: options.json)
            var total = 0
            var last: Control.Progress.Result?
            // Several consecutive clean readings: one heartbeat can lag behind a burst of ops.
            var clean = 0
            while true {
                let p = try client.request(Control.Progress())
                last = p
                let remaining = Int(p.behind + p.pending)
                let linked = p.links > 0 || p.mode == "hub"
                total = max(total, remaining)
                bar.update(total - remaining, of: max(total, 1))
                clean = remaining == 0 && linked ? clean + 1 : 0
                if clean >= 3 { break }
                if Date().timeIntervalSince(started) > timeout {
                    bar.finish()
                    let why = linked ? "\(remaining) op(s) still to go" : "no hub or peer is reachable (mode \(p.mode))"
                    throw CLIFailure(message: "not caught up after \(Int(timeout)) s: \(why)", code: 1)
                }
                usleep(100_000)
            }
            bar.finish()
            let seconds = (Date().timeIntervalSince(started) * 1000).rounded() / 1000
            if options.json {
                Output.json(["caught_up": true, "seconds": .double(seconds), "mode": .string(last?.mode ?? ""), "ops_transferred": .int(Int64(total))] as JSONValue)
            } else {
                print("caught up (\(last?.mode ?? "")) in \(String(format: "%.1f", seconds)) s")
            }
        }
    }
}
