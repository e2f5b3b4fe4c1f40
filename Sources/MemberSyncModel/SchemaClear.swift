/// Clearing a field (`Value.absent`), checked apart from the typed checks of `Schema`: a clear
/// has no type, so it is refused only where a field may not lose its value.
extension Schema {
    /// Whether `field` of `collection` may not be cleared.
    public func isRequired(_ collection: String, _ field: String) -> Bool {
        collections[collection]?.required.contains(field) ?? false
    }

    /// Checks that `field` may be cleared: a known scalar field that is not required.
    public func checkClear(collection: String, field: String) throws(SchemaError) {
        let type = try fieldType(collection, field)
        if type.isSet {
            throw SchemaError(collection: collection, field: field,
                              reason: "is a set: remove its members with \(field)-=ELEMENT (it cannot be cleared with \(field)=)")
        }
        if isRequired(collection, field) {
            throw SchemaError(collection: collection, field: field,
                              reason: "is required and cannot be cleared; give it a new value instead")
        }
    }

    /// A field state as the typed checks see it: the clears (`absent` siblings) of a scalar
    /// register are left out, since they carry no value to type-check. `$exists` is left as it
    /// is: it must hold booleans only.
    public static func withoutClears(_ state: FieldState, field: String) -> FieldState {
        guard field != Record.existsField, case .register(let r) = state, r.siblings.contains(where: { $0.value.isAbsent }) else {
            return state
        }
        return .register(Register(siblings: r.siblings.filter { !$0.value.isAbsent }, context: r.context))
    }

    /// Checks a field state that may hold clears: the typed checks on its values, and, for
    /// each clear it carries, that the field may be cleared (when `clearsMustBeAllowed`; a
    /// snapshot's states are joins of ops already checked one by one).
    public func checkStateAllowingClears(_ state: FieldState, collection: String, field: String,
                                         clearsMustBeAllowed: Bool = true) throws(SchemaError) {
        let typed = Self.withoutClears(state, field: field)
        try checkState(typed, collection: collection, field: field)
        if clearsMustBeAllowed && typed != state { try checkClear(collection: collection, field: field) }
    }
}
