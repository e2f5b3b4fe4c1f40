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

/// Edits concentrated on few records and fields, so many are concurrent with each other.
enum Workload {
    static let organisations = (0..<8).map { "organisations/org-\($0)" }
    static let projects = (0..<4).map { "projects/project-\($0)" }
    static let topics = ["climate", "transport", "digitalisation", "public-health", "culture", "education"]

    static func next(_ rng: inout SeededRandom, writer: String, n: Int) -> (args: [String], kind: AckedWrite.Kind, key: String) {
        let roll = Int.random(in: 0..<100, using: &rng)
        if roll < 40 {
            let key = organisations.randomElement(using: &rng)!
            let field = ["name", "description", "county"].randomElement(using: &rng)!
            let value = "\(field) by \(writer) #\(n)"
            return (["set", key, "\(field)=\(value)"], .assign(field: field, value: value), key)
        } else if roll < 60 {
            let key = projects.randomElement(using: &rng)!
            let status = ["idea", "proposal", "running", "closed"].randomElement(using: &rng)!
            return (["set", key, "status=\(status)"], .assign(field: "status", value: status), key)
        } else if roll < 80 {
            let key = organisations.randomElement(using: &rng)!
            let t = topics.randomElement(using: &rng)!
            return (["set", key, "topics+=\(t)"], .add(field: "topics", element: t), key)
        } else if roll < 95 {
            let key = organisations.randomElement(using: &rng)!
            let t = topics.randomElement(using: &rng)!
            return (["set", key, "topics-=\(t)"], .remove(field: "topics", element: t), key)
        } else {
            let key = (organisations + projects).randomElement(using: &rng)!
            return (["delete", key], .delete, key)
        }
    }
}
