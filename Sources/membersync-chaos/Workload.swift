import Foundation
import MemberSyncHarness

/// A write the CLI acknowledged, with the dot it was given.
struct AckedWrite: Sendable {
    enum Kind: Sendable { case assign(field: String, value: String), add(field: String, element: String), remove(field: String, element: String), delete }
    let node: String
    let key: String
    let kind: Kind
    let origin: String
    let counter: UInt64
}

/// Edits concentrated on few records and fields, so many are concurrent with each other, and
/// within each writer's rights (the federation is secure): a member edits its own organisation
/// and the shared projects, where every member is a partner; the hub operator (`writer` is the
/// hub) edits any of them, so a member's own record sees concurrent edits too.
enum Workload {
    static let projects = (0..<4).map { "projects/project-\($0)" }
    static let topics = ["climate", "transport", "digitalisation", "public-health", "culture", "education"]

    static func next(_ rng: inout SeededRandom, writer: String, members: [String], isHub: Bool, n: Int) -> (args: [String], kind: AckedWrite.Kind, key: String) {
        func organisation() -> String { "organisations/" + (isHub ? members.randomElement(using: &rng)! : writer) }
        let roll = Int.random(in: 0..<100, using: &rng)
        if roll < 40 {
            let key = organisation()
            let field = ["name", "description", "county"].randomElement(using: &rng)!
            let value = "\(field) by \(writer) #\(n)"
            return (["set", key, "\(field)=\(value)"], .assign(field: field, value: value), key)
        } else if roll < 60 {
            let key = projects.randomElement(using: &rng)!
            let status = ["idea", "proposal", "running", "closed"].randomElement(using: &rng)!
            return (["set", key, "status=\(status)"], .assign(field: "status", value: status), key)
        } else if roll < 80 {
            let key = organisation()
            let t = topics.randomElement(using: &rng)!
            return (["set", key, "topics+=\(t)"], .add(field: "topics", element: t), key)
        } else if roll < 95 {
            let key = organisation()
            let t = topics.randomElement(using: &rng)!
            return (["set", key, "topics-=\(t)"], .remove(field: "topics", element: t), key)
        } else {
            // A partner may not delete a project; a member may delete its own organisation.
            let key = isHub ? (members.map { "organisations/\($0)" } + projects).randomElement(using: &rng)! : organisation()
            return (["delete", key], .delete, key)
        }
    }
}
