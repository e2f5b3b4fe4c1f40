import Foundation
import MemberSyncControl
import MemberSyncDirectory
import XCTest

/// The typed control protocol against the JSON Protocols/CONTROL.md documents: every request
/// reads from and writes to its documented object, every result survives a round trip
/// unchanged, and a request that is not one gets a typed error.
final class ControlProtocolTests: XCTestCase {
    func json(_ text: String) -> JSONValue {
        guard let v = JSONValue(parsing: Array(text.utf8), fragments: true) else { XCTFail("not JSON: \(text)"); return .null }
        return v
    }

    /// `text` is the request as documented; it decodes to `expected` and `expected` encodes to it.
    func request<C: ControlCommand>(_ text: String, _ expected: C, file: StaticString = #filePath, line: UInt = #line) throws {
        let decoded = try ControlRequest(bytes: Array(text.utf8))
        XCTAssertEqual(decoded.command as? C, expected, "decodes \(text)", file: file, line: line)
        XCTAssertEqual(JSONValue(parsing: expected.requestBytes), json(text), "encodes as \(text)", file: file, line: line)
    }

    /// `text` is a documented result of `C`; decoding and encoding it again changes nothing.
    func result<C: ControlCommand>(_ type: C.Type, _ text: String, file: StaticString = #filePath, line: UInt = #line) throws {
        let typed = try JSONCoding.decode(C.Result.self, from: Array(text.utf8))
        XCTAssertEqual(JSONValue(parsing: JSONCoding.encode(typed), fragments: true), json(text), "\(C.name) result round trip", file: file, line: line)
        // And inside a reply frame, as the node sends it.
        let reply = JSONValue(parsing: ControlReply.encode(result: typed))
        XCTAssertEqual(reply?["ok"], .bool(true), file: file, line: line)
        XCTAssertEqual(reply?["result"], json(text), file: file, line: line)
    }

    func testEveryRequestReadsAndWritesItsDocumentedObject() throws {
        try request(#"{"command":"ping"}"#, Control.Ping())
        try request(#"{"command":"set","key":"organisations/asker","changes":["name=Asker","topics+=climate","website="]}"#,
                    Control.SetFields(key: "organisations/asker", changes: ["name=Asker", "topics+=climate", "website="]))
        try request(#"{"command":"set-many","edits":[{"key":"contacts/a","changes":["name=A"]}]}"#,
                    Control.SetMany(edits: [.init(key: "contacts/a", changes: ["name=A"])]))
        try request(#"{"command":"version"}"#, Control.VersionQuery())
        try request(#"{"command":"delete","key":"contacts/old"}"#, Control.Delete(key: "contacts/old"))
        try request(#"{"command":"get","key":"organisations/asker"}"#, Control.Get(key: "organisations/asker"))
        try request(#"{"command":"list","collection":"organisations"}"#, Control.List(collection: "organisations"))
        try request(#"{"command":"list","collection":"organisations","where":["kind=county","topics=climate"]}"#,
                    Control.List(collection: "organisations", where: ["kind=county", "topics=climate"]))
        try request(#"{"command":"conflicts"}"#, Control.Conflicts())
        try request(#"{"command":"search","text":"goteborg"}"#, Control.Search(text: "goteborg"))
        try request(#"{"command":"search","text":"climate","collection":"projects"}"#, Control.Search(text: "climate", collection: "projects"))
        try request(#"{"command":"show","key":"organisations/asker"}"#, Control.Show(key: "organisations/asker"))
        try request(#"{"command":"history","key":"organisations/asker"}"#, Control.History(key: "organisations/asker"))
        try request(#"{"command":"resolve","key":"projects/catchmr","field":"status","value":"running","force":false}"#,
                    Control.Resolve(key: "projects/catchmr", field: "status", value: "running"))
        try request(#"{"command":"inspect","key":"organisations/asker"}"#, Control.Inspect(key: "organisations/asker"))
        try request(#"{"command":"import","records":[{"key":"contacts/a","fields":{"name":"A","topics":["x"],"phone":null}}],"lines":[3]}"#,
                    Control.Import(records: [["key": "contacts/a", "fields": ["name": "A", "topics": ["x"], "phone": nil]]], lines: [3]))
        try request(#"{"command":"import","records":[],"check":true}"#, Control.Import(records: [], check: true))
        let packed = Control.Import(packing: [ImportRecord](), check: true)
        try request(#"{"command":"import","packed":"AQA=","check":true}"#, packed)
        XCTAssertEqual(try packed.unpacked(), [], "version 1, no records")
        for bad in ["!!", "AgA=", "AQE="] {  // not base64; version 2; one record cut short
            let request = try ControlRequest(bytes: Array(#"{"command":"import","packed":"\#(bad)"}"#.utf8)).command as? Control.Import
            XCTAssertThrowsError(try request?.unpacked(), bad) { XCTAssertEqual(($0 as? ControlError)?.kind, .badArgument) }
        }
        try request(#"{"command":"export"}"#, Control.Export())
        try request(#"{"command":"export","format":"csv","collection":"contacts","after":"contacts/a","limit":10000}"#,
                    Control.Export(format: .csv, collection: "contacts", after: "contacts/a", limit: 10_000))
        try request(#"{"command":"status"}"#, Control.StatusQuery())
        try request(#"{"command":"refused"}"#, Control.Refused())
        try request(#"{"command":"integrity"}"#, Control.Integrity())
        try request(#"{"command":"progress"}"#, Control.Progress())
        try request(#"{"command":"nodes"}"#, Control.Nodes())
        try request(#"{"command":"admit","node_id":"asker","organisation":"asker","role":"member","curve_key":"K","signing_key":"S","endpoints":["tcp://a:7400"],"accept_revoked_edits":true}"#,
                    Control.Admit(nodeID: "asker", organisation: "asker", role: "member", curveKey: "K", signingKey: "S",
                                  endpoints: ["tcp://a:7400"], acceptRevokedEdits: true))
        try request(#"{"command":"admit","node_id":"asker","organisation":"asker"}"#, Control.Admit(nodeID: "asker", organisation: "asker"))
        try request(#"{"command":"revoke","node_id":"asker"}"#, Control.Revoke(nodeID: "asker"))
        try request(#"{"command":"compact"}"#, Control.Compact())
        try request(#"{"command":"snapshot","path":"/tmp/s.sqlite","force":true}"#, Control.Snapshot(path: "/tmp/s.sqlite", force: true))
        try request(#"{"command":"restore","path":"/tmp/s.sqlite"}"#, Control.Restore(path: "/tmp/s.sqlite"))
        try request(#"{"command":"stats"}"#, Control.Stats())
        try request(#"{"command":"permissions","key":"contacts/kari","changes":["organisation=asker"]}"#,
                    Control.Permissions(key: "contacts/kari", changes: ["organisation=asker"]))
        try request(#"{"command":"metrics"}"#, Control.Metrics())
        try request(#"{"command":"lag"}"#, Control.Lag())
        // Every command of the protocol is covered above.
        XCTAssertEqual(ControlRequest.commands.count, 29)
    }

    func testEveryResultSurvivesARoundTripUnchanged() throws {
        let sibling = #"{"value":"running","origin":"asker@1","counter":4,"hlc":111411200000,"time":"2026-01-02T03:04:05.006Z"}"#
        let clear = #"{"value":null,"origin":"baerum@1","counter":2,"hlc":111411200001,"time":"2026-01-02T03:04:05.007Z"}"#
        let record = #"{"key":"projects/catchmr","fields":{"title":"CatchMR","partners":["asker","baerum"],"budget":1200},"conflicts":{"status":[\#(sibling),\#(clear)]}}"#
        let write = #"{"key":"organisations/asker","origin":"asker@1","counter":7}"#
        try result(Control.Ping.self, #"{"node_id":"asker"}"#)
        try result(Control.SetFields.self, write)
        try result(Control.Delete.self, write)
        try result(Control.SetMany.self, #"{"count":2,"origin":"asker@1","first_counter":8,"last_counter":9}"#)
        try result(Control.VersionQuery.self, #"{"replica":"asker@1","version":{"asker@1":9,"brussels@1":40},"records":120}"#)
        try result(Control.Get.self, record)
        try result(Control.List.self, "[\(record),{\"key\":\"projects/x\",\"fields\":{\"active\":true}}]")
        try result(Control.Conflicts.self, #"[{"key":"projects/catchmr","field":"status","values":[\#(sibling),\#(clear)]}]"#)
        try result(Control.Search.self, #"[{"key":"organisations/goteborg","title":"Gøteborg","matches":[{"field":"name","text":"Gøteborg"},{"field":"id","text":"goteborg"}]},{"key":"contacts/x","matches":[]}]"#)
        try result(Control.Show.self, #"{"key":"organisations/asker","fields":{"name":"Asker","networks":["eurocities"]},"title":"Asker","references":{"networks":[{"key":"networks/eurocities","title":"Eurocities","exists":true},{"key":"networks/gone","exists":false}]},"related":{"contacts":[{"key":"contacts/kari","title":"Kari","role":"adviser"}],"offices":[{"key":"offices/asker","city":"Asker"}],"networks":[{"key":"networks/eurocities","title":"Eurocities","via":["listed by the organisation","member"],"exists":true}],"projects":[{"key":"projects/catchmr","title":"CatchMR","roles":["lead"],"status":"running"}],"members":[],"nodes":[{"key":"nodes/asker"}]}}"#)
        try result(Control.Show.self, #"{"key":"contacts/kari","fields":{"name":"Kari"},"references":{}}"#)
        try result(Control.History.self, #"{"key":"organisations/asker","exists":true,"role":"member","ops":[{"origin":"asker@1","node":"asker","counter":3,"hlc":9,"time":"2026-01-02T03:04:05.006Z","action":"edit","fields":{"population":95000,"website":null,"topics":{"added":["climate"],"removed":["transport"]},"networks":{"added":["c40"]}}},{"origin":"asker@1","node":"asker","counter":4,"hlc":10,"time":"2026-01-02T03:04:05.007Z","action":"delete","fields":{},"refused":true}],"compacted":[{"origin":"brussels@1","floor":12,"latest_edit_compacted":false}],"complete":false}"#)
        try result(Control.Resolve.self, #"{"key":"projects/catchmr","field":"status","value":"running","replaced":[\#(sibling),\#(clear)],"was_conflicted":true,"origin":"asker@1","counter":12}"#)
        try result(Control.Inspect.self, #"{"key":"organisations/asker","exists":true,"fields":{"name":{"siblings":[{"origin":"asker@1","counter":1,"value":"Asker"}],"context":{"asker@1":1}},"topics":{"elements":{"climate":{"siblings":[{"origin":"asker@1","counter":1,"value":true}],"context":{"asker@1":1}}}}}}"#)
        try result(Control.Import.self, #"{"records":3,"created":1,"updated":1,"unchanged":1,"ops":2,"checked_only":false}"#)
        try result(Control.Export.self, #"{"lines":["{\"key\":\"contacts/a\",\"fields\":{}}"],"last_key":"contacts/a","done":true,"conflicted_fields":0,"total":1}"#)
        try result(Control.Export.self, #"{"lines":["contacts/a,A"],"header":"key,name","last_key":"contacts/a","done":false,"conflicted_fields":2,"total":7}"#)
        try result(Control.Progress.self, #"{"mode":"via-hub","behind":3,"pending":1,"links":1,"ops_in_log":40}"#)
        try result(Control.Nodes.self, #"[{"node_id":"asker","self":true,"online":true,"in_roster":true,"revoked":false,"organisation":"asker","role":"member","curve_key":"K","signing_key":"S","endpoints":["tcp://a:7400"],"connected":true,"ops_behind":0,"software_version":"0.1.0","protocol":1},{"node_id":"brussels","self":false,"online":false,"via":["hub link"],"in_roster":false,"endpoint":"tcp://b:7400","connected":false,"last_seen":"2026-01-02T03:04:05.006Z","hello_organisation":"x"}]"#)
        try result(Control.Admit.self, #"{"node_id":"asker","organisation":"asker","key":"nodes/asker","updated":false,"origin":"brussels@1","counter":5}"#)
        try result(Control.Revoke.self, #"{"node_id":"asker","key":"nodes/asker","changed":true,"origin":"brussels@1","counter":6}"#)
        try result(Control.Revoke.self, #"{"node_id":"asker","key":"nodes/asker","changed":false,"note":"already revoked"}"#)
        try result(Control.Compact.self, #"{"dropped":10,"ops_in_log":2,"ops_in_store":2,"log_floor":{"asker@1":10},"stable_version":{"asker@1":10}}"#)
        try result(Control.Compact.self, #"{"dropped":0,"ops_in_log":2,"log_floor":{},"note":"nothing was dropped"}"#)
        try result(Control.Snapshot.self, #"{"path":"/tmp/s.sqlite","bytes":4096,"records":3,"ops_in_log":4,"version":{"asker@1":4}}"#)
        try result(Control.Restore.self, #"{"path":"/tmp/s.sqlite","backup_replica":"brussels@1","records_in_backup":3,"ops_in_backup":4,"ops_added":1,"ops_rejected":0,"records_created":1,"records_changed":2,"changed_keys":["contacts/a","contacts/b"],"version_before":{},"version_after":{"brussels@1":4}}"#)
        try result(Control.Stats.self, #"{"node_id":"brussels","role":"hub","records":{"contacts":2,"nodes":0},"records_total":2,"records_deleted":1,"ops_in_log":3,"ops_in_store":3,"log_floor":{},"conflicts":0,"ops_applied":5,"ops_duplicate":1,"ops_rejected":{"schema":1},"ops_rejected_total":1,"local_writes":2,"snapshots_served":0,"snapshots_loaded":0,"connected_nodes":1,"known_nodes":2,"store_bytes":8192,"store_file":"/d/replica.sqlite","counters_since":"2026-01-02T03:04:05.006Z","uptime_seconds":60}"#)
        try result(Control.Integrity.self, #"{"result":"ok","path":"/d/replica.sqlite"}"#)
        try result(Control.Refused.self, #"[{"key":"projects/catchmr","summary":"status=closed","dot":"asker@1:4","origin":"asker@1","counter":4,"reason":"unauthorised","detail":"asker does not lead it","held":true,"at":"2026-01-02T03:04:05.006Z"},{"summary":"delete","dot":"asker@1:5","origin":"asker@1","counter":5,"reason":"revoked","detail":"d","held":false,"at":"2026-01-02T03:04:05.007Z"}]"#)
        try result(Control.Permissions.self, #"{"key":"contacts/kari","exists":false,"rules":"enforced","writer":{"node_id":"asker","organisation":"asker","hub_operator":false},"edit":{"writable":false,"reason":"not allowed: set organisation=asker"},"fields":{"name":{"writable":true,"type":"text"},"topics":{"writable":false,"reason":"r","type":"text-set"}}}"#)
        try result(Control.Permissions.self, #"{"key":"organisations/asker","exists":true,"rules":"off (insecure)","writer":{"node_id":"asker","organisation":"asker","hub_operator":true,"refused":"revoked"},"edit":{"writable":true},"delete":{"writable":true},"fields":{}}"#)
        try result(Control.Metrics.self, ##"{"text":"# HELP x\nx 1\n","content_type":"text/plain; version=0.0.4","health":"degraded","reasons":["no hub reachable"]}"##)
        try result(Control.Lag.self, #"[{"node_id":"asker","ops_behind":0,"last_seen_seconds":0.4,"lag_seconds":0},{"node_id":"baerum","ops_behind":3,"last_seen_seconds":12.5}]"#)
        try result(Control.StatusQuery.self, #"{"health":"healthy","health_reasons":[],"node_id":"asker","organisation":"asker","role":"member","replica":"asker@1","listen":"tcp://0.0.0.0:7400","mode":"via-hub","active_hub":"tcp://b:7400","hubs":[{"endpoint":"tcp://b:7400","connected":true,"node_id":"brussels","last_heard":"2026-01-02T03:04:05.006Z","last_heard_seconds_ago":0.4,"behind_ops":0,"behind_seconds":0,"their_missing_ops":1}],"peers":[{"endpoint":"baerum","connected":false,"node_id":"baerum","from_roster":true,"awaiting_roster":true,"handshake_failure":{"cause":"not-admitted","message":"m","seconds_ago":2.5}}],"version":{"asker@1":4},"pending":1,"digest":"00ff","records":10,"conflicts":1,"ops_in_log":20,"software_version":"0.1.0","protocol":1,"ops_applied":30,"ops_rejected":{"schema":1},"ops_waiting":0,"ops_waited":2,"requests_refused":{},"equivocations":0,"messages_dropped":{"zap-refused":3},"clients":[{"node_id":"x","organisation":"x","role":"member","software_version":"0.1.0","protocol":1,"last_seen":"2026-01-02T03:04:05.006Z","ops_behind":2}],"uptime_seconds":12,"hub":{"endpoint":"tcp://b:7400","node_id":"brussels","connected":true,"last_exchange":"2026-01-02T03:04:05.006Z","last_exchange_seconds_ago":0.4,"behind_ops":0,"behind_seconds":0,"their_missing_ops":1},"revoked":false,"refused_edits":0}"#)
        try result(Control.StatusQuery.self, #"{"node_id":"brussels","organisation":"o","role":"hub","replica":"brussels@1","listen":"tcp://0.0.0.0:7400","mode":"hub","hubs":[],"peers":[],"version":{},"pending":0,"digest":"00","records":0,"conflicts":0,"ops_in_log":0,"software_version":"0.1.0","protocol":1,"ops_applied":0,"ops_rejected":{},"ops_waiting":0,"ops_waited":0,"requests_refused":{},"equivocations":0,"messages_dropped":{},"clients":[],"uptime_seconds":0,"hub":{"endpoint":"tcp://b:7400","connected":false,"never_heard":true},"revoked":true}"#)
    }

    func testAnErrorReplyIsTheDocumentedObject() {
        XCTAssertEqual(JSONValue(parsing: ControlReply.encode(error: ControlError("no such record: contacts/x"))),
                       json(#"{"ok":false,"error":"no such record: contacts/x"}"#))
    }

    /// Anything that is not a request is a typed error that names what is wrong, never a crash.
    func testMalformedRequestsGetTypedErrors() {
        func error(_ text: String) -> ControlError? {
            do { _ = try ControlRequest(bytes: Array(text.utf8)); return nil } catch { return error }
        }
        let cases: [(String, ControlError.Kind, String)] = [
            ("not json", .notJSON, "request is not a JSON object"),
            ("[1, 2]", .notJSON, "request is not a JSON object"),
            (#""ping""#, .notJSON, "request is not a JSON object"),
            ("{}", .missingCommand, "missing 'command'"),
            (#"{"command": 7}"#, .missingCommand, "missing 'command'"),
            (#"{"command": "launch"}"#, .unknownCommand, "unknown command 'launch'"),
            (#"{"command": "get"}"#, .badArgument, "missing 'key' (COLLECTION/ID)"),
            (#"{"command": "get", "key": 12}"#, .badArgument, "missing 'key' (COLLECTION/ID)"),
            (#"{"command": "list"}"#, .badArgument, "missing 'collection'"),
            (#"{"command": "list", "collection": "contacts", "where": "a=b"}"#, .badArgument, "'where' must be a list of \"FIELD=VALUE\" strings"),
            (#"{"command": "search", "text": "  "}"#, .badArgument, "missing 'text' to search for"),
            (#"{"command": "search", "text": "x", "collection": 3}"#, .badArgument, "missing 'collection'"),
            (#"{"command": "resolve", "key": "contacts/a", "value": "x"}"#, .badArgument, "missing 'field'"),
            (#"{"command": "resolve", "key": "contacts/a", "field": "name"}"#, .badArgument, "missing 'value'"),
            (#"{"command": "import"}"#, .badArgument, "missing 'records': a list of {\"key\": \"collection/id\", \"fields\": {...}} objects"),
            (#"{"command": "import", "packed": 7}"#, .badArgument, "'packed' is a base64 string, and a request gives either 'packed' or 'records'"),
            (#"{"command": "import", "packed": "AQA=", "records": []}"#, .badArgument, "'packed' is a base64 string, and a request gives either 'packed' or 'records'"),
            (#"{"command": "set-many", "edits": [1]}"#, .badArgument, "missing 'edits' (a list of {key, changes})"),
            (#"{"command": "set-many", "edits": [{"changes": []}]}"#, .badArgument, "edit 0: missing 'key' (COLLECTION/ID)"),
            (#"{"command": "admit", "organisation": "asker"}"#, .badArgument, "missing 'node_id'"),
            (#"{"command": "snapshot", "path": ""}"#, .badArgument, "missing 'path'"),
            (#"{"command": "permissions", "key": "contacts/a", "changes": "x=y"}"#, .badArgument, "'changes' must be a list of \"FIELD=VALUE\" strings"),
        ]
        for (text, kind, message) in cases {
            let e = error(text)
            XCTAssertEqual(e?.kind, kind, text)
            XCTAssertEqual(e?.message, message, text)
        }
    }

    /// Arguments of the wrong type that the node always read as absent still are.
    func testLenientArgumentsStayLenient() throws {
        let set = try ControlRequest(bytes: Array(#"{"command":"set","key":"contacts/a","changes":"name=A"}"#.utf8)).command as? Control.SetFields
        XCTAssertEqual(set?.changes, [])
        let export = try ControlRequest(bytes: Array(#"{"command":"export","limit":"many","format":"csv"}"#.utf8)).command as? Control.Export
        XCTAssertEqual(export, Control.Export(format: .csv))
    }
}
