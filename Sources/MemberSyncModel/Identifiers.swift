/// Identifies one incarnation of a node's replica: the node id plus an epoch chosen when its
/// data directory was created, so a node whose disk was wiped never reuses old dots.
public struct ReplicaID: Hashable, Comparable, Sendable, CustomStringConvertible {
    public let node: String
    public let epoch: UInt32

    public init(node: String, epoch: UInt32) {
        self.node = node
        self.epoch = epoch
    }

    /// Text form `node@epoch-in-hex`, used in CLI output and logs.
    public var description: String { "\(node)@\(String(epoch, radix: 16))" }

    /// Parses the text form produced by `description`.
    public init?(parsing text: String) {
        guard let at = text.lastIndex(of: "@") else { return nil }
        let node = String(text[..<at])
        guard let epoch = UInt32(text[text.index(after: at)...], radix: 16), isValidSlug(node) else { return nil }
        self.init(node: node, epoch: epoch)
    }

    public static func < (a: ReplicaID, b: ReplicaID) -> Bool {
        (a.node, a.epoch) < (b.node, b.epoch)
    }
}

/// One event: the `counter`-th operation of `replica`.
public struct Dot: Hashable, Comparable, Sendable, CustomStringConvertible {
    public let replica: ReplicaID
    public let counter: UInt64

    public init(_ replica: ReplicaID, _ counter: UInt64) {
        self.replica = replica
        self.counter = counter
    }

    public var description: String { "\(replica):\(counter)" }

    public static func < (a: Dot, b: Dot) -> Bool {
        (a.replica, a.counter) < (b.replica, b.counter)
    }
}

/// Address of a record: `collection/id`, where id is a lowercase slug.
public struct RecordKey: Hashable, Comparable, Sendable, CustomStringConvertible {
    public let collection: String
    public let id: String

    public init(collection: String, id: String) {
        self.collection = collection
        self.id = id
    }

    /// Parses `collection/id`; the collection is checked against a schema elsewhere.
    public init(parsing text: String) throws(SchemaError) {
        // One scan of the bytes for the slash (a search's candidates parse thousands of keys).
        let utf8 = text.utf8, slashByte = UInt8(ascii: "/")
        guard let slash = utf8.firstIndex(of: slashByte), !utf8[utf8.index(after: slash)...].contains(slashByte) else {
            throw SchemaError(collection: text, field: nil, reason: "a record key has the form collection/id")
        }
        let collection = String(text[..<slash]), id = String(text[text.index(after: slash)...])
        guard isValidSlug(id) else {
            throw SchemaError(collection: collection, field: nil,
                              reason: "id '\(id)' is not a lowercase slug (a-z, 0-9, '-', 1-64 characters, starting with a letter or digit)")
        }
        self.init(collection: collection, id: id)
    }

    public var description: String { "\(collection)/\(id)" }

    public static func < (a: RecordKey, b: RecordKey) -> Bool {
        (a.collection, a.id) < (b.collection, b.id)
    }
}

/// A slug: 1-64 characters of a-z, 0-9 and '-', not starting with '-'.
public func isValidSlug(_ s: String) -> Bool {
    let utf8 = s.utf8
    guard let first = utf8.first, first != UInt8(ascii: "-"), utf8.count <= 64 else { return false }
    return utf8.allSatisfy { (0x61...0x7a).contains($0) || (0x30...0x39).contains($0) || $0 == UInt8(ascii: "-") }
}
