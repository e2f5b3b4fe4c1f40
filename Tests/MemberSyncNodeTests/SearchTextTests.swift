import MemberSyncControl
import MemberSyncHarness
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

    /// The byte-wise search for plain ASCII answers what the character-wise one answers, and
    /// leaves everything else (other letters, a carriage return) to it.
    func testTheASCIIPathFindsWhatTheCharacterWisePathFinds() {
        var rng = SeededRandom(seed: 5)
        let alphabet = Array("abAB-_ z9.\r\n\"")
        func random(_ n: Int) -> String { String((0..<Int.random(in: 0...n, using: &rng)).map { _ in alphabet.randomElement(using: &rng)! }) }
        var decided = 0
        for _ in 0..<3000 {
            let text = random(12), want = Array(SearchText.fold(random(3)))
            guard !want.isEmpty else { continue }
            let general = SearchText.foldedRange(of: want, in: text)
            if let fast = SearchText.asciiRange(of: want, in: text) {
                decided += 1
                XCTAssertEqual(fast, general, "'\(want)' in '\(text)'")
            } else {
                XCTAssertTrue(text.utf8.contains(13) || want.contains(where: { $0.unicodeScalars.count > 1 }), "only a carriage return is left undecided here: '\(text)'")
            }
        }
        XCTAssertGreaterThan(decided, 1000)
        XCTAssertNil(SearchText.asciiRange(of: Array("ba"), in: "Bærum"), "other letters go character by character")
        XCTAssertEqual(SearchText.range(of: "SOR odal", in: "Lunner, sor-Odal").map { String("Lunner, sor-Odal"[$0]) }, "sor-Odal")
    }
}
