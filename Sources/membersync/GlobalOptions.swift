import ArgumentParser

/// `membersync --data-dir DIR status`: options every node command shares, written before the
/// subcommand. swift-argument-parser reads options only on the command that declares them, so
/// these are moved to just after the subcommand path (`hub snapshot`, `status`) before parsing;
/// a subcommand that does not take one then reports it as it would anywhere else.
enum GlobalOptions {
    /// Options taking a value, and flags, that `NodeOptions` declares.
    static let withValue: Set<String> = ["--data-dir"]
    static let flags: Set<String> = ["--json"]

    static func hoisted(_ args: [String], root: ParsableCommand.Type = MemberSync.self) -> [String] {
        var globals: [String] = []
        var i = 0
        while i < args.count {
            let a = args[i]
            let name = a.split(separator: "=", maxSplits: 1).first.map(String.init) ?? a
            if flags.contains(a) {
                globals.append(a)
                i += 1
            } else if withValue.contains(a), i + 1 < args.count {
                globals += [a, args[i + 1]]
                i += 2
            } else if withValue.contains(name), a.contains("=") {
                globals.append(a)
                i += 1
            } else {
                break
            }
        }
        guard !globals.isEmpty, i < args.count else { return args }
        // Walk down the subcommand names that follow.
        var rest = Array(args[i...])
        var command = root
        var depth = 0
        while depth < rest.count,
              let sub = command.configuration.subcommands.first(where: { $0._commandName == rest[depth] }) {
            command = sub
            depth += 1
        }
        rest.insert(contentsOf: globals, at: depth)
        return rest
    }
}
