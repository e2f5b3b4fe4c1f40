import MemberSyncDirectory

/// One command of the control protocol (Protocols/CONTROL.md section 3): its name on the
/// wire, its arguments (the stored properties, encoded beside `"command"`), and the type of
/// its `result`. `init(arguments:)` reads a request the way the node always has: a missing
/// or mistyped argument that the command needs is a `ControlError` naming it.
public protocol ControlCommand: Encodable, Sendable, Equatable {
    associatedtype Result: Codable & Sendable & Equatable
    static var name: String { get }
    init(arguments: ControlArguments) throws(ControlError)
}

/// The arguments of a request: the members of its JSON object besides `command`.
public struct ControlArguments: Sendable, Equatable {
    public let members: [String: JSONValue]
    public init(_ members: [String: JSONValue]) { self.members = members }

    public func has(_ name: String) -> Bool { members[name] != nil }
    public func string(_ name: String) -> String? { members[name]?.string }
    public func strings(_ name: String) -> [String]? { members[name]?.strings }
    public func bool(_ name: String) -> Bool? { members[name]?.bool }
    public func int(_ name: String) -> Int? { members[name]?.int }
    public func ints(_ name: String) -> [Int]? {
        guard let a = members[name]?.array else { return nil }
        var out: [Int] = []
        for e in a { guard let i = e.int else { return nil }; out.append(i) }
        return out
    }

    /// A string argument the command cannot do without.
    public func require(_ name: String, _ missing: String) throws(ControlError) -> String {
        guard let s = string(name) else { throw .argument(missing) }
        return s
    }

    /// `key` (COLLECTION/ID); checked against the schema by the node.
    public func key() throws(ControlError) -> String { try require("key", "missing 'key' (COLLECTION/ID)") }

    /// An optional list of strings that, when given, must be one.
    public func optionalStrings(_ name: String, _ wrong: String) throws(ControlError) -> [String]? {
        guard has(name) else { return nil }
        guard let list = strings(name) else { throw .argument(wrong) }
        return list
    }
}

/// Encodes a command as its request: `{"command": NAME, ...arguments}`.
struct RequestEnvelope<C: ControlCommand>: Encodable {
    let command: C
    private struct Key: CodingKey {
        let stringValue: String
        init(stringValue: String) { self.stringValue = stringValue }
        var intValue: Int? { nil }
        init?(intValue: Int) { nil }
    }

    func encode(to encoder: Encoder) throws {
        try command.encode(to: encoder)
        var c = encoder.container(keyedBy: Key.self)
        try c.encode(C.name, forKey: Key(stringValue: "command"))
    }
}

extension ControlCommand {
    /// The request's JSON text.
    public var requestBytes: [UInt8] { JSONCoding.encode(RequestEnvelope(command: self)) }
}

/// A decoded request: which command, with its arguments read.
public struct ControlRequest: Sendable {
    public let command: any ControlCommand

    public init(_ command: any ControlCommand) { self.command = command }

    /// Reads a request frame. Anything but a JSON object with a known `command` whose arguments
    /// hold is a `ControlError`, never a crash.
    public init(bytes: [UInt8]) throws(ControlError) {
        guard let value = JSONValue(parsing: bytes), let object = value.object else {
            throw ControlError("request is not a JSON object", kind: .notJSON)
        }
        try self.init(object: object)
    }

    public init(object: [String: JSONValue]) throws(ControlError) {
        guard let name = object["command"]?.string else { throw ControlError("missing 'command'", kind: .missingCommand) }
        guard let type = Self.commands[name] else { throw ControlError("unknown command '\(name)'", kind: .unknownCommand) }
        var arguments = object
        arguments["command"] = nil
        command = try type.init(arguments: ControlArguments(arguments))
    }

    /// Every command of the protocol, by name.
    public static let commands: [String: any ControlCommand.Type] = {
        let all: [any ControlCommand.Type] = [
            Control.Ping.self, Control.SetFields.self, Control.SetMany.self, Control.VersionQuery.self, Control.Delete.self, Control.Get.self,
            Control.List.self, Control.Conflicts.self, Control.StatusQuery.self, Control.Refused.self, Control.Inspect.self, Control.Import.self,
            Control.Export.self, Control.Search.self, Control.Show.self, Control.History.self, Control.Resolve.self, Control.Progress.self,
            Control.Nodes.self, Control.Admit.self, Control.Revoke.self, Control.Compact.self, Control.Snapshot.self, Control.Restore.self,
            Control.Stats.self, Control.Integrity.self, Control.Permissions.self, Control.Metrics.self, Control.Lag.self,
        ]
        return Dictionary(uniqueKeysWithValues: all.map { ($0.name, $0) })
    }()
}
