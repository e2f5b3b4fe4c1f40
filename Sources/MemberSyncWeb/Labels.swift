import MemberSyncModel

/// Words the pages use for collections and fields, and which fields each listing shows.
enum Labels {
    static let collectionOrder = ["organisations", "contacts", "projects", "networks", "offices", "nodes"]

    static let singular: [String: String] = [
        "organisations": "organisation", "contacts": "contact", "offices": "office",
        "networks": "network", "projects": "project", "nodes": "roster node",
    ]

    /// The columns of a collection's listing (besides the title).
    static let columns: [String: [String]] = [
        "organisations": ["kind", "county", "population"],
        "contacts": ["organisation", "role", "email"],
        "offices": ["organisation", "city", "country"],
        "networks": ["kind", "members"],
        "projects": ["status", "programme", "lead"],
        "nodes": ["organisation", "role", "revoked"],
    ]

    static func collection(_ name: String) -> String { name.prefix(1).uppercased() + name.dropFirst() }

    static func field(_ name: String) -> String {
        let words = name.replacingOccurrences(of: "_", with: " ")
        return words.prefix(1).uppercased() + words.dropFirst()
    }

    /// The collection's fields, its title field first, then by name.
    static func fieldOrder(_ c: CollectionSchema) -> [String] {
        [c.titleField] + c.fields.keys.filter { $0 != c.titleField }.sorted()
    }

    /// The CLI's slug rule (`isValidSlug`), for ids typed into forms and URLs.
    static func isID(_ s: String) -> Bool { isValidSlug(s) }
}
