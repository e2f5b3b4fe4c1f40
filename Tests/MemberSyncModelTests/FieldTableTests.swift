import MemberSyncHarness
import XCTest
@testable import MemberSyncModel

/// A record's fields moved from a `Dictionary` to `FieldTable` (one sorted array). These
/// replay random histories through both: the dictionary is the old model, and every visible
/// answer (lookups, contents, joins, summaries) must agree.
final class FieldTableTests: XCTestCase {
    /// Random sets, removals, in-place set joins and replacements, applied to a table and to a
    /// dictionary: after every step they hold the same fields, and the table in name order.
    func testATableAnswersAsADictionaryThroughARandomHistory() {
        var sim = Simulation(seed: 0xf1e1d, replicaCount: 3)
        sim.run(steps: 300)
        var rng = SeededRandom(seed: 0x7ab1e)
        let names = ["$exists", "name", "county", "description", "topics", "website", "a", "zz"]
        var table = FieldTable(), dict: [String: FieldState] = [:]
        for step in 0..<3_000 {
            let name = names.randomElement(using: &rng)!
            switch Int.random(in: 0..<5, using: &rng) {
            case 0:
                let state = FieldState.register(sim.randomRegister(field: "name"))
                XCTAssertEqual(table.updateValue(state, forKey: name), dict.updateValue(state, forKey: name), "step \(step)")
            case 1:
                table[name] = nil
                dict[name] = nil
            case 2:
                let set = sim.randomSet()
                if case .set? = table[name] {
                    table[name]!.joinSet(set)
                    dict[name] = dict[name]!.joined(with: .set(set))
                } else {
                    table[name] = .set(set)
                    dict[name] = .set(set)
                }
            case 3:
                let state = FieldState.register(sim.randomRegister(field: "county"))
                table[name] = state
                dict[name] = state
            default:
                XCTAssertEqual(table[name], dict[name], "step \(step)")
            }
            XCTAssertEqual(table.count, dict.count, "step \(step)")
            XCTAssertEqual(Array(table.keys), dict.keys.sorted(), "step \(step)")
            XCTAssertEqual(table.dictionary, dict, "step \(step)")
            XCTAssertEqual(table, FieldTable(dict), "step \(step): equal contents make equal tables")
        }
    }

    /// Joining records field by field gives what joining their dictionaries field by field
    /// gave, whatever the order of the fields; equal records hash equal.
    func testRecordJoinsAgreeWithTheDictionaryModel() {
        var sim = Simulation(seed: 0x5eed5, replicaCount: 4, keyCount: 2)
        for round in 0..<200 {
            sim.run(steps: 20)
            let a = sim.randomRecord(), b = sim.randomRecord()
            var expected = a.fields.dictionary
            for (name, state) in b.fields {
                expected[name] = expected[name].map { $0.joined(with: state) ?? $0 } ?? state
            }
            let joined = a.joined(with: b)
            XCTAssertEqual(joined.fields.dictionary, expected, "round \(round)")
            XCTAssertEqual(joined, Record(fields: expected), "round \(round)")
            XCTAssertEqual(joined.hashValue, Record(fields: expected).hashValue, "round \(round)")
            var viaOp = a
            viaOp.join(b.fields.dictionary)
            XCTAssertEqual(viaOp, joined, "round \(round): an op's dictionary joins as a record's table")
        }
    }

    /// Fields decoded in name order build the table directly; any other order does not (the
    /// decoder then takes its checked path).
    func testOnlyStrictlyIncreasingNamesBuildATableDirectly() {
        let state = FieldState.register(Register())
        XCTAssertNotNil(FieldTable(strictlyIncreasing: [("$exists", state), ("email", state), ("name", state)]))
        XCTAssertNil(FieldTable(strictlyIncreasing: [("name", state), ("email", state)]))
        XCTAssertNil(FieldTable(strictlyIncreasing: [("name", state), ("name", state)]))
    }
}
