import Foundation
import MemberSyncControl
@testable import MemberSyncDirectory
import MemberSyncModel
import XCTest

@testable import MemberSyncNode

/// Reading back the CSV that `export --format csv` writes.
final class CSVImportTests: XCTestCase {
    func testRowsFollowRFC4180QuotingAndReportBadQuotesWithTheirLine() {
        let (rows, problems) = CSVFormat.rows("a,b,c\r\n\"x, y\",\"say \"\"hi\"\"\",\"two\nlines\"\n,,\nlast,\"\",end")
        XCTAssertEqual(problems, [])
        XCTAssertEqual(rows, [
            CSVFormat.Row(line: 1, cells: ["a", "b", "c"]),
            CSVFormat.Row(line: 2, cells: ["x, y", "say \"hi\"", "two\nlines"]),
            CSVFormat.Row(line: 4, cells: ["", "", ""]),
            CSVFormat.Row(line: 5, cells: ["last", "", "end"]),
        ])
        let bad = CSVFormat.rows("key,name\nk,a\"b\nk2,\"open\" x\nk3,fine\nk4,\"never closed\n")
        XCTAssertEqual(bad.rows.map(\.line), [1, 4])
        XCTAssertEqual(bad.problems.map(\.line), [2, 3, 5])
    }

    func testCSVRowsBecomeImportRecordsTypedByTheSchema() throws {
        let csv = """
            key,name,county,population,topics,website
            organisations/asker,Asker,Viken,94000,climate;housing,
            organisations/hamar,,Innlandet,,,https://hamar.kommune.no

            """
        let (records, problems) = ImportFormat.parseCSV(Data(("\u{FEFF}" + csv).utf8))
        XCTAssertEqual(problems, [])
        XCTAssertEqual(records.map(\.key.description), ["organisations/asker", "organisations/hamar"])
        let asker = records[0], hamar = records[1]
        XCTAssertEqual(asker.scalars["population"], .int(94000))
        XCTAssertEqual(asker.sets["topics"], ["climate", "housing"])
        XCTAssertEqual(asker.scalars["website"], .absent, "an empty cell means no value")
        XCTAssertNil(hamar.scalars["name"], "an empty required field is left as it is")
        XCTAssertEqual(hamar.scalars["population"], .absent)
        XCTAssertEqual(hamar.sets["topics"], [], "an empty set cell empties the set")
        XCTAssertEqual(hamar.line, 3)
    }

    func testBadCSVIsReportedRowByRowAndNothingIsTaken() {
        let csv = """
            key,name,colour
            organisations/asker,Asker,red
            people/x,X,
            organisations/hamar,Hamar
            organisations/Not A Slug,x,
            """
        let (records, problems) = ImportFormat.parseCSV(Data(csv.utf8))
        XCTAssertEqual(records, [])
        XCTAssertEqual(Set(problems.map(\.line)), [2, 3, 4, 5])
        XCTAssertTrue(problems.contains { $0.line == 2 && $0.field == "colour" })
        XCTAssertTrue(problems.contains { $0.line == 4 && $0.message.contains("2 cell(s), the header has 3") })
        XCTAssertEqual(ImportFormat.parseCSV(Data("name,key\nx,y\n".utf8)).problems.first?.line, 1, "the header must start with key")
        XCTAssertEqual(ImportFormat.parseCSV(Data()).problems.count, 1)
    }

    func testExportedRowsReadBackToTheSameValues() throws {
        var replica = Replica(id: ReplicaID(node: "brussels", epoch: 1), wallClock: { 1_000 })
        let key = RecordKey(collection: "projects", id: "quoted")
        _ = try replica.write(key, [.assign(field: "title", value: .string("Say \"hi\", then go")), .assign(field: "description", value: .string("Line one,\nline two")),
                                    .assign(field: "status", value: .string("running")),
                                    .add(field: "partners", element: "asker"), .add(field: "partners", element: "oslo"),
                                    .assign(field: "start", value: .string("2024-02-29"))])
        let c = try Schema.memberSync.collection("projects")
        let columns = CSVFormat.columns(c)
        let text = CSVFormat.line(columns) + "\n" + CSVFormat.row(try XCTUnwrap(replica.view(key)), columns: columns) + "\n"
        let (records, problems) = ImportFormat.parseCSV(Data(text.utf8))
        XCTAssertEqual(problems, [])
        let r = try XCTUnwrap(records.first)
        XCTAssertEqual(ImportFormat.action(for: r, current: replica.record(key)), .unchanged, "a re-import of the export changes nothing")
        XCTAssertEqual(r.scalars["title"], .string("Say \"hi\", then go"))
        XCTAssertEqual(r.scalars["description"], .string("Line one,\nline two"), "a line break survives a quoted cell")
        XCTAssertEqual(r.sets["partners"], ["asker", "oslo"])
    }
}
