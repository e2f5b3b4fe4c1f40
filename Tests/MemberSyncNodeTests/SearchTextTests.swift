import MemberSyncControl
@testable import MemberSyncDirectory
import XCTest

@testable import MemberSyncNode

/// The one folding search applies to queries and texts alike.
final class SearchTextTests: XCTestCase {
    func testNorwegianLettersAccentsAndCaseFoldAlike() {
        XCTAssertEqual(SearchText.fold("Gøteborg"), "goteborg")
        XCTAssertEqual(SearchText.fold("Bærum"), "baerum")
        XCTAssertEqual(SearchText.fold("ÅS"), "as")
        XCTAssertEqual(SearchText.fold("Göteborg"), "goteborg")
        XCTAssertEqual(SearchText.fold("Café Øst-Agder"), "cafe ost agder")
        // Decomposed input (e + combining acute) folds like the precomposed letter.
        XCTAssertEqual(SearchText.fold("Cafe\u{301}"), SearchText.fold("Café"))
        for (text, query) in [("Gøteborg", "goteborg"), ("Lillestrøm", "lillestrom"), ("Øyvind", "oyvind"),
                              ("Bærum", "baerum"), ("Bærum", "BÆRUM"), ("baerum", "Bærum"), ("Sør-Odal", "sor odal"),
                              ("welfare-technology", "welfare-TECHNOLOGY")] {
            XCTAssertTrue(SearchText.contains(text, query), "'\(query)' should find '\(text)'")
        }
        XCTAssertFalse(SearchText.contains("Bærum", "barum"), "æ is ae, not a")
        XCTAssertFalse(SearchText.contains("anything", ""), "an empty query matches nothing")
        XCTAssertFalse(SearchText.contains("Oslo", "oslo kommune"))
    }

    func testMatchRangeIsInTheOriginalText() throws {
        let text = "Cooperation between Oslo and Gøteborg, with a secretariat"
        let r = try XCTUnwrap(SearchText.range(of: "goteborg", in: text))
        XCTAssertEqual(String(text[r]), "Gøteborg")
        // A match that ends inside a letter folded to two takes the whole letter.
        let b = "Municipality of Bærum"
        XCTAssertEqual(SearchText.range(of: "ba", in: b).map { String(b[$0]) }, "Bæ")
        XCTAssertEqual(SearchText.range(of: "baerum", in: b).map { String(b[$0]) }, "Bærum")
    }
}
