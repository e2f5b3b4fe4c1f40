/// Why a write or op was refused: which collection, which field, and the reason in words.
public struct SchemaError: Error, Equatable, Sendable, CustomStringConvertible {
    public let collection: String
    public let field: String?
    public let reason: String

    public init(collection: String, field: String?, reason: String) {
        self.collection = collection
        self.field = field
        self.reason = reason
    }

    public var description: String {
        if let field { return "\(collection).\(field): \(reason)" }
        return "\(collection): \(reason)"
    }
}

/// The type of one field, as declared in the schema.
public enum FieldType: Equatable, Sendable, CustomStringConvertible {
    case text
    case integer
    case boolean
    /// `YYYY-MM-DD`.
    case date
    case oneOf([String])
    /// The id of a record in the named collection (it may not have arrived yet).
    case reference(String)
    /// An add-wins set of short texts.
    case textSet
    /// An add-wins set of ids of records in the named collection.
    case referenceSet(String)

    public var isSet: Bool {
        switch self {
        case .textSet, .referenceSet: return true
        default: return false
        }
    }

    public var description: String {
        switch self {
        case .text: return "text"
        case .integer: return "integer"
        case .boolean: return "boolean"
        case .date: return "date (YYYY-MM-DD)"
        case .oneOf(let options): return "one of " + options.joined(separator: "|")
        case .reference(let c): return "reference to \(c)"
        case .textSet: return "set of text"
        case .referenceSet(let c): return "set of references to \(c)"
        }
    }
}

/// One collection: its name and typed fields.
public struct CollectionSchema: Equatable, Sendable {
    public let name: String
    public let fields: [String: FieldType]
    /// The field shown as the record's title in listings.
    public let titleField: String
    /// Fields that may be replaced but never cleared (`FIELD=`): the title, and fields the
    /// write rules judge ownership by. A record may still be created without them.
    public let required: Set<String>

    public init(name: String, titleField: String, required: Set<String> = [], fields: [String: FieldType]) {
        self.name = name
        self.titleField = titleField
        self.required = required.union([titleField])
        self.fields = fields
    }
}

/// The collections MemberSync replicates and the types of their fields. Every local write and
/// every remote op is checked against it before anything is applied.
public struct Schema: Sendable {
    public let collections: [String: CollectionSchema]

    /// The value limits of `Limits` (kept here under their old names).
    public static let maxTextBytes = Limits.maxTextBytes
    public static let maxElementBytes = Limits.maxElementBytes

    public init(_ collections: [CollectionSchema]) {
        self.collections = Dictionary(uniqueKeysWithValues: collections.map { ($0.name, $0) })
    }

    /// The six collections of the MemberSync design.
    public static let memberSync = Schema([
        CollectionSchema(name: "organisations", titleField: "name", fields: [
            "name": .text,
            "kind": .oneOf(["municipality", "county", "university", "city", "office", "alliance", "association", "agency"]),
            "county": .text,
            "population": .integer,
            "description": .text,
            "website": .text,
            "topics": .textSet,
            "networks": .referenceSet("networks"),
            "memberships": .referenceSet("organisations"),
            "joined": .date,
        ]),
        CollectionSchema(name: "contacts", titleField: "name", required: ["organisation"], fields: [
            "name": .text,
            "organisation": .reference("organisations"),
            "role": .text,
            "email": .text,
            "phone": .text,
            "topics": .textSet,
        ]),
        CollectionSchema(name: "offices", titleField: "name", fields: [
            "name": .text,
            "organisation": .reference("organisations"),
            "address": .text,
            "city": .text,
            "country": .text,
        ]),
        CollectionSchema(name: "networks", titleField: "name", fields: [
            "name": .text,
            "kind": .text,
            "description": .text,
            "website": .text,
            "members": .referenceSet("organisations"),
        ]),
        CollectionSchema(name: "projects", titleField: "title", fields: [
            "title": .text,
            "programme": .text,
            "status": .oneOf(["idea", "proposal", "running", "closed"]),
            "lead": .reference("organisations"),
            "partners": .referenceSet("organisations"),
            "topics": .textSet,
            "start": .date,
            "end": .date,
            "description": .text,
        ]),
        CollectionSchema(name: "nodes", titleField: "organisation", fields: [
            "organisation": .reference("organisations"),
            "curve_key": .text,
            "signing_key": .text,
            "role": .oneOf(["member", "hub"]),
            "endpoints": .textSet,
            "revoked": .boolean,
            "accepted_through": .text,
            "revoked_spans": .text,
            "epochs": .textSet,
            "forks": .textSet,
        ]),
    ])

    public func collection(_ name: String) throws(SchemaError) -> CollectionSchema {
        guard let c = collections[name] else {
            throw SchemaError(collection: name, field: nil,
                              reason: "unknown collection (known: \(collections.keys.sorted().joined(separator: ", ")))")
        }
        return c
    }

    public func fieldType(_ collection: String, _ field: String) throws(SchemaError) -> FieldType {
        let c = try self.collection(collection)
        guard let t = c.fields[field] else {
            throw SchemaError(collection: collection, field: field,
                              reason: "unknown field (known: \(c.fields.keys.sorted().joined(separator: ", ")))")
        }
        return t
    }

    /// Turns user text into a typed value for a scalar field.
    public func parseValue(_ text: String, collection: String, field: String) throws(SchemaError) -> Value {
        let type = try fieldType(collection, field)
        let value: Value
        switch type {
        case .integer:
            guard let i = Int64(text) else {
                throw SchemaError(collection: collection, field: field, reason: "'\(text)' is not an integer")
            }
            value = .int(i)
        case .boolean:
            switch text.lowercased() {
            case "true", "yes", "1": value = .bool(true)
            case "false", "no", "0": value = .bool(false)
            default: throw SchemaError(collection: collection, field: field, reason: "'\(text)' is not true or false")
            }
        case .textSet, .referenceSet:
            throw SchemaError(collection: collection, field: field, reason: "is a set: use \(field)+=ELEMENT or \(field)-=ELEMENT")
        default:
            value = .string(text)
        }
        try checkScalar(value, type: type, collection: collection, field: field)
        return value
    }

    /// Checks a scalar value against its field type.
    public func checkScalar(_ value: Value, type: FieldType, collection: String, field: String) throws(SchemaError) {
        func fail(_ reason: String) -> SchemaError { SchemaError(collection: collection, field: field, reason: reason) }
        switch (type, value) {
        case (.text, .string(let s)):
            if s.utf8.count > Self.maxTextBytes { throw fail("text longer than \(Self.maxTextBytes) bytes") }
            if let why = TextRules.problem(in: s, field: field) { throw fail(why) }
        case (.integer, .int), (.boolean, .bool):
            break
        case (.date, .string(let s)):
            if !isValidDate(s) { throw fail("'\(s)' is not a date of the form YYYY-MM-DD") }
        case (.oneOf(let options), .string(let s)):
            if !options.contains(s) { throw fail("'\(s)' is not one of \(options.joined(separator: ", "))") }
        case (.reference(let target), .string(let s)):
            if !isValidSlug(s) { throw fail("'\(s)' is not an id of \(target)") }
        case (.textSet, _), (.referenceSet, _):
            throw fail("is a set field, not a scalar")
        default:
            throw fail("expected \(type), got '\(value)'")
        }
    }

    /// Checks one set element against its field type.
    public func checkElement(_ element: String, type: FieldType, collection: String, field: String) throws(SchemaError) {
        func fail(_ reason: String) -> SchemaError { SchemaError(collection: collection, field: field, reason: reason) }
        switch type {
        case .textSet:
            if element.isEmpty || element.utf8.count > Self.maxElementBytes {
                throw fail("set elements are 1-\(Self.maxElementBytes) bytes")
            }
            if let why = TextRules.problem(in: element, field: nil) { throw fail(why) }
        case .referenceSet(let target):
            if !isValidSlug(element) { throw fail("'\(element)' is not an id of \(target)") }
        default:
            throw fail("is not a set field: use \(field)=VALUE")
        }
    }

    /// Checks a whole field state (from an op or snapshot): right kind, every value well typed.
    public func checkState(_ state: FieldState, collection: String, field: String) throws(SchemaError) {
        if field == Record.existsField {
            guard case .register(let r) = state, r.siblings.allSatisfy({ if case .bool = $0.value { return true } else { return false } }) else {
                throw SchemaError(collection: collection, field: field, reason: "must be a boolean register")
            }
            return
        }
        let type = try fieldType(collection, field)
        switch state {
        case .register(let r):
            if type.isSet { throw SchemaError(collection: collection, field: field, reason: "is a set field but a scalar value arrived") }
            for s in r.siblings { try checkScalar(s.value, type: type, collection: collection, field: field) }
        case .set(let set):
            if !type.isSet { throw SchemaError(collection: collection, field: field, reason: "is a scalar field but a set arrived") }
            for element in set.elements.keys { try checkElement(element, type: type, collection: collection, field: field) }
        }
    }
}

/// `YYYY-MM-DD` with a real month and a day that exists in that month.
public func isValidDate(_ s: String) -> Bool {
    let b = Array(s.utf8)
    guard b.count == 10, b[4] == UInt8(ascii: "-"), b[7] == UInt8(ascii: "-") else { return false }
    let digits = [0, 1, 2, 3, 5, 6, 8, 9]
    guard digits.allSatisfy({ (0x30...0x39).contains(b[$0]) }) else { return false }
    func num(_ r: Range<Int>) -> Int { r.reduce(0) { $0 * 10 + Int(b[$1] - 0x30) } }
    let year = num(0..<4), month = num(5..<7), day = num(8..<10)
    guard (1...12).contains(month), day >= 1 else { return false }
    let leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0
    let days = [31, leap ? 29 : 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31]
    return day <= days[month - 1]
}
