import MemberSyncModel
import XCTest

/// Control characters and broken encodings are refused in every text value, wherever it comes
/// from: the schema check is the one every path (CLI, import, remote op, snapshot) goes through.
final class TextRulesTests: XCTestCase {
    let schema = Schema.memberSync

    func refusal(_ text: String, _ collection: String = "organisations", _ field: String = "name") -> String? {
        do { _ = try schema.parseValue(text, collection: collection, field: field); return nil } catch { return error.description }
    }

    func testControlCharactersAreRefusedWithTheirNameAndPlace() {
        for (text, named) in [("\u{1B}[2JGone", "U+001B (ESC)"), ("Asker\u{0}", "U+0000 (NUL)"), ("a\rb", "U+000D (CR)"),
                              ("bell\u{7}", "U+0007 (BEL)"), ("del\u{7F}", "U+007F (DEL)"), ("c1 \u{9B}31m", "U+009B (CSI)"),
                              ("next\u{85}line", "U+0085"), ("two\nlines", "U+000A (LF)"), ("tab\there", "U+0009 (TAB)")] {
            let why = refusal(text)
            XCTAssertNotNil(why, text.debugDescription)
            XCTAssertTrue(why?.contains(named) ?? false, "\(why ?? "-") names \(named)")
            XCTAssertTrue(why?.hasPrefix("organisations.name: contains the control character") ?? false, why ?? "-")
        }
        XCTAssertTrue(refusal("a\u{1B}b")!.contains("at character 2"))
        XCTAssertTrue(refusal("two\nlines")!.contains("newlines and tabs only in address, description"))
    }

    func testNewlinesAndTabsOnlyInMultiLineFieldsAndOrdinaryTextPasses() {
        XCTAssertNil(refusal("First line\nsecond\tindented", "projects", "description"))
        XCTAssertNil(refusal("Storgata 1\n0155 Oslo", "offices", "address"))
        XCTAssertNotNil(refusal("one\u{1B}[31m red", "projects", "description"), "escape sequences stay out of running text too")
        XCTAssertNotNil(refusal("a\rb", "projects", "description"), "only newline and tab")
        for ok in ["Bærum kommune", "Østfold – Viken", "Zürich 🚲", "Łódź", "東京", "tab-less, line-less"] {
            XCTAssertNil(refusal(ok), ok)
        }
    }

    func testBrokenEncodingIsRefused() {
        XCTAssertTrue(refusal("caf\u{FFFD}")!.contains("not valid UTF-8"))
        XCTAssertNil(TextRules.firstInvalidUTF8(Array("Bærum".utf8)))
        XCTAssertEqual(TextRules.firstInvalidUTF8([0x41, 0x42, 0xC3]), 2, "a truncated sequence")
        XCTAssertEqual(TextRules.firstInvalidUTF8([0x41, 0xFF, 0x42]), 1)
        XCTAssertEqual(TextRules.firstInvalidUTF8([0xED, 0xA0, 0x80]), 0, "an encoded surrogate")
    }

    func testSetElementsAreSingleLineAndRemoteStatesAreCheckedToo() throws {
        XCTAssertThrowsError(try schema.checkElement("climate\n", type: .textSet, collection: "projects", field: "topics"))
        XCTAssertThrowsError(try schema.checkElement("\u{1B}]0;owned\u{7}", type: .textSet, collection: "projects", field: "topics"))
        XCTAssertNoThrow(try schema.checkElement("klima og miljø", type: .textSet, collection: "projects", field: "topics"))
        // An op built around the local check (as a hostile node would) fails validation.
        var r = Replica(id: ReplicaID(node: "asker", epoch: 1), wallClock: { 1_700_000_000_000 })
        let op = try r.write(RecordKey(collection: "organisations", id: "asker"), [.assign(field: "name", value: .string("Asker"))])
        let dot = op.dot
        let bad = Op(origin: op.origin, counter: op.counter, hlc: op.hlc, key: op.key, fields: [
            "name": .register(Register(siblings: [Sibling(dot: dot, hlc: op.hlc, value: .string("\u{1B}[2J"))], context: VersionVector())),
        ])
        var other = Replica(id: ReplicaID(node: "baerum", epoch: 1), wallClock: { 1_700_000_000_000 })
        XCTAssertThrowsError(try other.apply(bad)) { error in
            XCTAssertTrue("\(error)".contains("control character"), "\(error)")
        }
        XCTAssertThrowsError(try r.write(RecordKey(collection: "organisations", id: "asker"), [.assign(field: "name", value: .string("x\u{9B}y"))]))
    }
}
