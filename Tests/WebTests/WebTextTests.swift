import MemberSyncModel
import XCTest
@testable import MemberSyncWeb

/// What the page takes from a browser (forms, queries, paths) and how it shows values.
final class WebTextTests: XCTestCase {
    func testEscapingLeavesNoMarkupAndShowsControlCharacters() {
        XCTAssertEqual(WebText.html("<script>alert('x') & \"y\"</script>"),
                       "&lt;script&gt;alert(&#39;x&#39;) &amp; &quot;y&quot;&lt;/script&gt;")
        XCTAssertEqual(WebText.html("a\u{1B}[31mred\u{0}"), "a\u{241B}[31mred\u{2400}", "ESC and NUL become visible pictures")
        XCTAssertEqual(WebText.html("tab\tand\nnewline"), "tab\tand\nnewline", "tab and newline stay")
        XCTAssertEqual(WebText.visible("x\u{85}y\u{2028}z\u{7F}"), "x\u{FFFD}y\u{FFFD}z\u{2421}")
        XCTAssertEqual(WebText.visible("Bærum Lillestrøm Gøteborg"), "Bærum Lillestrøm Gøteborg")
    }

    func testFormDecodingIsStrict() throws {
        let pairs = try XCTUnwrap(WebText.formPairs("f%3Aname=B%C3%A6rum+kommune&add%3Atopics=a%2Cb&empty=&flag"))
        XCTAssertEqual(pairs.map(\.0), ["f:name", "add:topics", "empty", "flag"])
        XCTAssertEqual(pairs.map(\.1), ["Bærum kommune", "a,b", "", ""])
        XCTAssertNil(WebText.formPairs("name=%ZZ"), "bad percent-encoding")
        XCTAssertNil(WebText.formPairs("name=%C3"), "a cut UTF-8 sequence")
        XCTAssertNil(WebText.formPairs("name=%FF%FE"), "not UTF-8")
        XCTAssertEqual(WebText.percentEncode("a b/æ?&"), "a%20b%2F%C3%A6%3F%26")
    }

    func testPathSegmentsAndCookies() {
        XCTAssertEqual(WebRequest(method: "GET", path: "/r/organisations/b%C3%A6rum").segments, ["r", "organisations", "bærum"])
        XCTAssertEqual(WebRequest(method: "GET", path: "/r/a+b").segments, ["r", "a+b"], "a plus in a path is a plus")
        XCTAssertNil(WebRequest(method: "GET", path: "/r/%E2%28").segments)
        let r = WebRequest(method: "GET", path: "/", headers: ["cookie": "a=1; membersync-asker=abc ;b=2"])
        XCTAssertEqual(r.cookies["membersync-asker"], "abc")
        XCTAssertEqual(r.cookies["b"], "2")
    }

    func testSafeReturnPathsStayOnThisServer() {
        XCTAssertEqual(WebApp.safeReturn("/conflicts", fallback: "/"), "/conflicts")
        for bad in ["//evil.example/", "https://evil.example/", "/\\evil", "javascript:alert(1)", "/a\nb", nil] {
            XCTAssertEqual(WebApp.safeReturn(bad, fallback: "/x"), "/x", String(describing: bad))
        }
    }

    func testRoutePatterns() {
        XCTAssertEqual(WebApp.match(["r", "contacts", "kari"], "r/*/*"), ["contacts", "kari"])
        XCTAssertNil(WebApp.match(["r", "contacts"], "r/*/*"))
        XCTAssertNil(WebApp.match(["x", "contacts", "kari"], "r/*/*"))
        XCTAssertEqual(WebApp.match(["search"], "search"), [])
    }
}

/// Forms become the CLI's FIELD=VALUE / FIELD+=X / FIELD-=X arguments; only what changed is
/// written, and names the page never offers are refused.
final class FormEditsTests: XCTestCase {
    let organisations = Schema.memberSync.collections["organisations"]!

    func testOnlyChangedScalarsAreWritten() throws {
        let form = Form([("csrf", "t"), ("f:name", "Asker kommune"), ("o:name", "Asker"), ("f:county", "Viken"), ("o:county", "Viken"),
                         ("f:description", "line 1\r\nline 2"), ("o:description", "line 1\nline 2")])
        XCTAssertEqual(try FormEdits.changes(form, collection: organisations, creating: false), ["name=Asker kommune"],
                       "unchanged fields, and a textarea's CRLF, write nothing")
    }

    func testSetElementsAreAddedAndRemoved() throws {
        let form = Form([("add:topics", " climate, ,mobility "), ("rm:topics", "transport"), ("rm:networks", "eurocities")])
        XCTAssertEqual(try FormEdits.changes(form, collection: organisations, creating: false),
                       ["topics+=climate", "topics+=mobility", "topics-=transport", "networks-=eurocities"])
    }

    func testCreatingWritesEveryGivenValue() throws {
        let form = Form([("id", "x"), ("f:name", "Kari"), ("o:name", ""), ("f:county", ""), ("f:population", "0")])
        XCTAssertEqual(try FormEdits.changes(form, collection: organisations, creating: true), ["name=Kari", "population=0"])
    }

    func testAValueMayHoldEqualsSignsAndOperators() throws {
        let form = Form([("f:name", "=+=-= x"), ("o:name", "")])
        XCTAssertEqual(try FormEdits.changes(form, collection: organisations, creating: false), ["name==+=-= x"],
                       "the node's parser splits at the first '=' after a known field name")
    }

    func testUnknownOrMisusedNamesAreRefused() {
        for (pairs, needle) in [([("f:planet", "mars")], "no field 'planet'"), ([("name", "x")], "unexpected form field 'name'"),
                                ([("zz:name", "x")], "unexpected form field"), ([("f:topics", "x")], "is a set"),
                                ([("add:name", "x")], "is not a set")] as [([(String, String)], String)] {
            XCTAssertThrowsError(try FormEdits.changes(Form(pairs), collection: organisations, creating: false)) { error in
                XCTAssertTrue((error as? FormError)?.message.contains(needle) ?? false, "\(pairs): \(error)")
            }
        }
    }
}

/// The templates escape every value: only the layout writes HTML unescaped, and that HTML is
/// a page this server rendered itself.
final class TemplateSafetyTests: XCTestCase {
    func testNoTemplateWritesAValueUnescaped() {
        for (name, text) in Templates.all {
            var rest = text
            if name == "layout" { rest = rest.replacingOccurrences(of: "{{{body}}}", with: "") }
            XCTAssertFalse(rest.contains("{{{"), "\(name) writes a value unescaped")
            XCTAssertFalse(rest.contains("{{&"), "\(name) writes a value unescaped")
        }
    }

    func testEveryTemplateParsesAndEscapesHostileValues() throws {
        let r = try Renderer()
        let hostile = "\"><script>alert(1)</script>\u{1B}[2J"
        let html = r.render("message", ["heading": hostile, "text": hostile, "has_hint": true, "hint": hostile])
        XCTAssertFalse(html.contains("<script>"), html)
        XCTAssertTrue(html.contains("&quot;&gt;&lt;script&gt;alert(1)&lt;/script&gt;\u{241B}[2J"), html)
        let form = r.render("fields", ["form": [["name": "name", "label": "Name", "type": "text", "disabled": true, "reason": hostile,
                                                 "is_set": false, "is_input": true, "input_type": "text", "value": hostile, "orig": hostile,
                                                 "is_textarea": false, "is_select": false, "options": [Any](), "members": [Any](), "added": ""]]])
        XCTAssertFalse(form.contains("<script>"), form)
        XCTAssertTrue(form.contains("value=\"&quot;&gt;&lt;script&gt;"), "an attribute value cannot be closed early: \(form)")
        XCTAssertTrue(form.contains(" disabled aria-describedby=\"why-name\""), form)
    }
}
