import Foundation
import MemberSyncControl
@testable import MemberSyncDirectory
import MemberSyncModel
import XCTest

@testable import MemberSyncNode

/// `FIELD=` clears, in edit arguments and import lines.
final class EditParserTests: XCTestCase {
    let key = RecordKey(collection: "organisations", id: "asker")

    func testEmptyValueClearsAndRequiredOrSetFieldsSaySo() throws {
        XCTAssertEqual(try EditParser.changes(["population=", "website="], key: key),
                       [.assign(field: "population", value: .absent), .assign(field: "website", value: .absent)])
        XCTAssertThrowsError(try EditParser.changes(["name="], key: key)) {
            XCTAssertEqual(($0 as? DirectoryError)?.message, "organisations.name: is required and cannot be cleared; give it a new value instead")
        }
        XCTAssertThrowsError(try EditParser.changes(["topics="], key: key)) {
            XCTAssertTrue(($0 as? DirectoryError)?.message.contains("is a set") ?? false, "\($0)")
        }
        XCTAssertThrowsError(try EditParser.changes(["colour="], key: key)) {
            XCTAssertTrue(($0 as? DirectoryError)?.message.contains("unknown field") ?? false, "\($0)")
        }
        XCTAssertEqual(try EditParser.changes(["population=7"], key: key), [.assign(field: "population", value: .int(7))])
    }

    func testImportNullClearsOnlyWhatHasAValue() throws {
        let line = #"{"key":"organisations/asker","fields":{"name":"Asker","website":null,"population":null}}"#
        let (records, problems) = ImportFormat.parse(Data(line.utf8))
        XCTAssertEqual(problems, [])
        let r = try XCTUnwrap(records.first)
        XCTAssertEqual(r.scalars["website"], .absent)
        XCTAssertEqual(try ImportPack.decode(ImportPack.encode([r])).first?.fields["website"], .null, "sent on as null")

        var replica = Replica(id: ReplicaID(node: "brussels", epoch: 1), wallClock: { 1_000 })
        _ = try replica.write(key, [.assign(field: "name", value: .string("Asker")), .assign(field: "website", value: .string("w"))])
        XCTAssertEqual(ImportFormat.action(for: r, current: replica.record(key)),
                       .write([.assign(field: "website", value: .absent)], creates: false), "population has no value: nothing to clear")
        _ = try replica.write(key, [.assign(field: "website", value: .absent)])
        XCTAssertEqual(ImportFormat.action(for: r, current: replica.record(key)), .unchanged)

        let required = ImportFormat.parse(Data(#"{"key":"organisations/asker","fields":{"name":null}}"#.utf8))
        XCTAssertEqual(required.problems.map(\.field), ["name"])
        XCTAssertTrue(required.problems.first?.message.contains("required") ?? false)
    }
}
