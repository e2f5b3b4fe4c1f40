/// A control request that cannot be served, with the message the CLI prints. `kind` says
/// what failed without parsing the sentence; on the wire only `message` travels
/// (`{"ok": false, "error": MESSAGE}`, Protocols/CONTROL.md section 2).
public struct ControlError: Error, Sendable, Equatable, CustomStringConvertible {
    public enum Kind: String, Sendable, Equatable {
        /// The request is not a JSON object.
        case notJSON
        /// The request names no command.
        case missingCommand
        /// The command is not one this node knows.
        case unknownCommand
        /// An argument is missing or of the wrong type.
        case badArgument
        /// A well-formed request the node refused (schema, write rules, state).
        case refused
    }

    public let kind: Kind
    public let message: String

    public init(_ message: String, kind: Kind = .refused) {
        self.kind = kind
        self.message = message
    }

    public var description: String { message }

    static func argument(_ message: String) -> ControlError { ControlError(message, kind: .badArgument) }
}
