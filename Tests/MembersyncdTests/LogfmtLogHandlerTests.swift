import Foundation
import Logging
@testable import membersyncd
import XCTest

final class LogfmtLogHandlerTests: XCTestCase {
    let time = Date(timeIntervalSince1970: 1_764_000_000.123)

    func testLineLayout() {
        let line = LogfmtLogHandler.format(level: .warning, message: "link down",
                                           metadata: ["peer.id": "brussels", "link": "hub[0]", "silent_ms": "3012"], journald: false, time: time)
        XCTAssertEqual(line, "ts=2025-11-24T16:00:00.123Z level=warning msg=\"link down\" link=hub[0] peer.id=brussels silent_ms=3012\n")
    }

    func testJournaldGetsPriorityPrefixAndNoTimestamp() {
        let line = LogfmtLogHandler.format(level: .error, message: "compaction failed", metadata: [:], journald: true, time: time)
        XCTAssertEqual(line, "<3>level=error msg=\"compaction failed\"\n")
        XCTAssertEqual(LogfmtLogHandler.syslogPriority(.info), 6)
        XCTAssertEqual(LogfmtLogHandler.syslogPriority(.critical), 2)
    }

    func testValuesAreQuotedAndEscapedOntoOneLine() {
        XCTAssertEqual(LogfmtLogHandler.quote("plain"), "plain")
        XCTAssertEqual(LogfmtLogHandler.quote(""), "\"\"")
        XCTAssertEqual(LogfmtLogHandler.quote("two words"), "\"two words\"")
        XCTAssertEqual(LogfmtLogHandler.quote("a=b"), "\"a=b\"")
        XCTAssertEqual(LogfmtLogHandler.quote("say \"hi\""), "\"say \\\"hi\\\"\"")
        XCTAssertEqual(LogfmtLogHandler.quote("back\\slash"), "\"back\\\\slash\"")
        XCTAssertEqual(LogfmtLogHandler.quote("line1\nline2\r\t"), "\"line1\\nline2\\r\\t\"")
        XCTAssertEqual(LogfmtLogHandler.quote("bell\u{7}"), "\"bell\\u0007\"")
        XCTAssertEqual(LogfmtLogHandler.quote("Lillestrøm"), "Lillestrøm", "non-ASCII text stays readable")
        let hostile = LogfmtLogHandler.format(level: .info, message: "msg\nlevel=critical msg=forged", metadata: ["k": "v\nts=0"], journald: false, time: time)
        XCTAssertEqual(hostile.filter { $0 == "\n" }.count, 1, "a value cannot start a new log line")
    }

    func testKeysAndStructuredValues() {
        XCTAssertEqual(LogfmtLogHandler.sanitiseKey("op.origin"), "op.origin")
        XCTAssertEqual(LogfmtLogHandler.sanitiseKey("bad key=\""), "bad_key__")
        XCTAssertEqual(LogfmtLogHandler.sanitiseKey(""), "_")
        XCTAssertEqual(LogfmtLogHandler.render(.array(["a", "b"])), "[a,b]")
        XCTAssertEqual(LogfmtLogHandler.render(.dictionary(["z": "1", "a": "2"])), "{a:2,z:1}")
    }

    func testHandlerMergesLoggerAndCallMetadata() {
        let sink = LineSink()
        var handler = LogfmtLogHandler(label: "test", journald: false, write: { sink.append($0) })
        handler[metadataKey: "node.id"] = "asker"
        handler.logLevel = .info
        var logger = Logger(label: "test", factory: { _ in handler })
        logger[metadataKey: "peer.id"] = "from-logger"
        logger.debug("not shown")
        logger.info("op rejected", metadata: ["peer.id": "brussels", "op.origin": "evil@7"])
        XCTAssertEqual(sink.lines.count, 1)
        XCTAssertTrue(sink.lines[0].hasSuffix("level=info msg=\"op rejected\" node.id=asker op.origin=evil@7 peer.id=brussels\n"), sink.lines[0])
    }
}

fileprivate final class LineSink: @unchecked Sendable {
    private let lock = NSLock()
    private var stored: [String] = []
    func append(_ s: String) { lock.lock(); stored.append(s); lock.unlock() }
    var lines: [String] { lock.lock(); defer { lock.unlock() }; return stored }
}
