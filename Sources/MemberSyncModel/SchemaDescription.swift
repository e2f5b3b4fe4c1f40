/// One field of the schema as operators read it (`membersync schema`): its kind and the limits
/// the checks of `Schema` apply. Built from the schema itself, so the listing cannot drift from
/// what writes and ops are checked against.
public struct FieldDescription: Sendable, Equatable {
    public let name: String
    /// `text`, `integer`, `boolean`, `date`, `one-of`, `reference`, `text-set`, `reference-set`.
    public let kind: String
    /// The allowed values of a `one-of` field.
    public let options: [String]?
    /// The collection a reference (or reference set) points into.
    public let target: String?
    public let isSet: Bool
    /// Required fields may be replaced but never cleared.
    public let required: Bool
    /// The field shown as the record's title.
    public let isTitle: Bool
    /// Most UTF-8 bytes of a text value, or of one set element.
    public let maxBytes: Int?
    /// The limit in words.
    public let limit: String
}

extension Schema {
    /// What an id (a record id, a reference) must look like.
    public static let idRule = "a lowercase slug of 1-64 bytes: a-z, 0-9 and '-', not starting with '-'"

    /// The fields of `collection`, title field first, then by name.
    public func describe(_ collection: CollectionSchema) -> [FieldDescription] {
        let order = [collection.titleField] + collection.fields.keys.filter { $0 != collection.titleField }.sorted()
        return order.compactMap { name in
            guard let type = collection.fields[name] else { return nil }
            let kind: String, limit: String
            var options: [String]?, target: String?, maxBytes: Int?
            switch type {
            case .text:
                kind = "text"; maxBytes = Self.maxTextBytes; limit = "at most \(Self.maxTextBytes) bytes"
            case .integer:
                kind = "integer"; limit = "a whole number, \(Int64.min) to \(Int64.max)"
            case .boolean:
                kind = "boolean"; limit = "true or false (yes/no, 1/0 accepted)"
            case .date:
                kind = "date"; limit = "YYYY-MM-DD, a day that exists"
            case .oneOf(let o):
                kind = "one-of"; options = o; limit = o.joined(separator: " | ")
            case .reference(let c):
                kind = "reference"; target = c; limit = "the id of a record in \(c)"
            case .textSet:
                kind = "text-set"; maxBytes = Self.maxElementBytes; limit = "elements of 1-\(Self.maxElementBytes) bytes"
            case .referenceSet(let c):
                kind = "reference-set"; target = c; limit = "elements are ids of records in \(c)"
            }
            return FieldDescription(name: name, kind: kind, options: options, target: target, isSet: type.isSet,
                                    required: collection.required.contains(name), isTitle: name == collection.titleField,
                                    maxBytes: maxBytes, limit: limit)
        }
    }
}
