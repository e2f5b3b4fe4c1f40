import MemberSyncModel

// A tiny tour of the CRDT: two offices edit one record while apart, then exchange ops.
let clock: @Sendable () -> UInt64 = { 1_700_000_000_000 }
var asker = Replica(id: ReplicaID(node: "asker", epoch: 1), wallClock: clock)
var baerum = Replica(id: ReplicaID(node: "baerum", epoch: 1), wallClock: clock)
let key = try RecordKey(parsing: "projects/green-mobility")

let created = try asker.write(key, [.assign(field: "title", value: .string("Green mobility")), .add(field: "partners", element: "asker")])
try baerum.apply(created)

let a = try asker.write(key, [.assign(field: "status", value: .string("proposal")), .add(field: "topics", element: "transport")])
let b = try baerum.write(key, [.assign(field: "status", value: .string("running")), .add(field: "partners", element: "baerum")])
try asker.apply(b)
try baerum.apply(a)

print("asker  digest \(asker.digest())")
print("baerum digest \(baerum.digest())")
for conflict in asker.conflicts() {
    print("conflict on \(conflict.key) \(conflict.field): " + conflict.siblings.map { "\($0.value) by \($0.dot.replica)" }.joined(separator: ", "))
}
let view = asker.view(key)!
print("partners: \(view.field("partners")!.members!.joined(separator: ", "))")
