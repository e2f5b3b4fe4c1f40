import Foundation
import MemberSyncModel

/// A form the page cannot turn into an edit (a browser or a script sent names the page
/// never offers); the message is shown to the person.
struct FormError: Error, Equatable {
    let message: String
}

/// Turns an edit or create form into the CLI's edit arguments (`FIELD=VALUE`, `FIELD+=X`,
/// `FIELD-=X`), which the node parses and checks exactly as it does the CLI's: the page
/// validates nothing itself beyond knowing the field names.
///
/// Form names: `f:FIELD` a scalar's new value, `o:FIELD` its value when the page was drawn
/// (only a changed value is written, so saving a form never touches fields the person left
/// alone, nor settles a conflict by accident), `add:FIELD` elements to add (commas separate
/// several), `rm:FIELD` an element to remove (one per checked box).
enum FormEdits {
    static let controlNames: Set<String> = ["csrf", "id", "return"]

    static func changes(_ form: Form, collection: CollectionSchema, creating: Bool) throws(FormError) -> [String] {
        var out: [String] = []
        var scalars: [String: String] = [:]
        var originals: [String: String] = [:]
        var order: [String] = []
        for (name, raw) in form.pairs {
            if controlNames.contains(name) { continue }
            guard let colon = name.firstIndex(of: ":") else { throw FormError(message: "unexpected form field '\(name)'") }
            let kind = String(name[..<colon]), field = String(name[name.index(after: colon)...])
            guard let type = collection.fields[field] else {
                throw FormError(message: "\(collection.name) has no field '\(field)' (known: \(collection.fields.keys.sorted().joined(separator: ", ")))")
            }
            let value = normalise(raw)
            switch kind {
            case "f":
                guard !type.isSet else { throw FormError(message: "\(field) is a set: add or remove its elements") }
                if scalars[field] == nil { order.append(field) }
                scalars[field] = value
            case "o":
                originals[field] = value
            case "add":
                guard type.isSet else { throw FormError(message: "\(field) is not a set: give it a value") }
                for element in value.split(separator: ",").map({ $0.trimmingCharacters(in: .whitespaces) }) where !element.isEmpty {
                    out.append("\(field)+=\(element)")
                }
            case "rm":
                guard type.isSet else { throw FormError(message: "\(field) is not a set: give it a value") }
                out.append("\(field)-=\(value)")
            default:
                throw FormError(message: "unexpected form field '\(name)'")
            }
        }
        var assigns: [String] = []
        for field in order {
            let value = scalars[field]!
            if creating ? !value.isEmpty : value != (originals[field] ?? "") { assigns.append("\(field)=\(value)") }
        }
        return assigns + out
    }

    /// Browsers send a textarea's line breaks as CRLF; the record keeps what was typed.
    static func normalise(_ s: String) -> String {
        s.contains("\r\n") ? s.replacingOccurrences(of: "\r\n", with: "\n") : s
    }
}
