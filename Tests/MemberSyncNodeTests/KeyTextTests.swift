@testable import MemberSyncConfig
import XCTest
@testable import MemberSyncNode

/// Public keys given as text are checked where they are typed (`hub admit`).
final class KeyTextTests: XCTestCase {
    func testSigningKeysAre64HexDigits() {
        XCTAssertNil(KeyText.signingKeyProblem(String(repeating: "0a", count: 32)))
        XCTAssertNil(KeyText.signingKeyProblem(String(repeating: "AF", count: 32)))
        XCTAssertNotNil(KeyText.signingKeyProblem(""))
        XCTAssertNotNil(KeyText.signingKeyProblem(String(repeating: "a", count: 63)))
        XCTAssertNotNil(KeyText.signingKeyProblem(String(repeating: "a", count: 65)))
        XCTAssertTrue(KeyText.signingKeyProblem(String(repeating: "z", count: 64))!.contains("other characters"))
        XCTAssertNotNil(KeyText.signingKeyProblem(String(repeating: "a", count: 62) + "é"))
    }

    func testCurveKeysAre40Z85Characters() {
        XCTAssertNil(KeyText.curveKeyProblem("Hx8.-:+=^!/*?&<>()[]{}@%$#0123456789abcd"))
        XCTAssertTrue(KeyText.curveKeyProblem("short")!.contains("got 5"))
        XCTAssertTrue(KeyText.curveKeyProblem(String(repeating: "~", count: 40))!.contains("outside Z85"))
        XCTAssertNotNil(KeyText.curveKeyProblem(String(repeating: "a", count: 39) + " "))
    }
}
