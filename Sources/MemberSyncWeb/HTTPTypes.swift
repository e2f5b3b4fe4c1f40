import Foundation

/// A request as the web app sees it, independent of the HTTP server that parsed it (so the
/// app's rules are tested without sockets). Header names are lower-case.
struct WebRequest: Sendable {
    var method: String
    /// The path, still percent-encoded.
    var path: String
    var query: String = ""
    var headers: [String: String] = [:]
    var body: [UInt8] = []

    func header(_ name: String) -> String? { headers[name.lowercased()] }

    var cookies: [String: String] {
        var out: [String: String] = [:]
        for part in (header("cookie") ?? "").split(separator: ";") {
            let kv = part.split(separator: "=", maxSplits: 1)
            guard kv.count == 2 else { continue }
            out[kv[0].trimmingCharacters(in: .whitespaces)] = kv[1].trimmingCharacters(in: .whitespaces)
        }
        return out
    }

    /// The decoded path segments; nil when the path is not valid percent-encoded UTF-8.
    var segments: [String]? {
        var out: [String] = []
        for s in path.split(separator: "/", omittingEmptySubsequences: true) {
            guard let d = WebText.percentDecode(Substring(s.replacingOccurrences(of: "+", with: "%2B"))) else { return nil }
            out.append(d)
        }
        return out
    }

    var queryForm: Form? { WebText.formPairs(query).map(Form.init) }
}

/// A decoded form (or query): pairs in order, names may repeat.
struct Form: Sendable {
    let pairs: [(String, String)]

    init(_ pairs: [(String, String)]) { self.pairs = pairs }

    func first(_ name: String) -> String? { pairs.first { $0.0 == name }?.1 }
    func all(_ name: String) -> [String] { pairs.filter { $0.0 == name }.map(\.1) }
}

/// What the app answers: a complete body, or (for /events) a stream of server-sent events.
struct WebResponse: Sendable {
    var status: Int
    var headers: [(String, String)] = []
    var body: [UInt8] = []
    var events: AsyncStream<String>?

    static func html(_ status: Int, _ text: String) -> WebResponse {
        WebResponse(status: status, headers: [("Content-Type", "text/html; charset=utf-8"), ("Cache-Control", "no-store")], body: Array(text.utf8))
    }

    static func text(_ status: Int, _ text: String, contentType: String = "text/plain; charset=utf-8") -> WebResponse {
        WebResponse(status: status, headers: [("Content-Type", contentType), ("Cache-Control", "no-store")], body: Array(text.utf8))
    }

    static func json(_ status: Int, _ object: Any) -> WebResponse { json(status, bytes: WebJSON.encode(object)) }

    static func json(_ status: Int, bytes: [UInt8]) -> WebResponse {
        WebResponse(status: status, headers: [("Content-Type", "application/json"), ("Cache-Control", "no-store")], body: bytes)
    }

    /// 303 See Other: after a form post, the browser fetches `location` with GET.
    static func redirect(_ location: String, headers: [(String, String)] = []) -> WebResponse {
        WebResponse(status: 303, headers: [("Location", location), ("Cache-Control", "no-store")] + headers)
    }

    func header(_ name: String) -> String? { headers.first { $0.0.lowercased() == name.lowercased() }?.1 }
}

/// Headers every answer carries: no framing, no sniffing, no referrer to other sites (a login
/// link never leaks; `no-referrer` would also make browsers send `Origin: null` on this page's
/// own forms, which the cross-site check refuses), and a content security policy that allows only this server's own script and
/// style, so even a value that got past escaping could not run code.
enum SecurityHeaders {
    static let all: [(String, String)] = [
        ("Content-Security-Policy", "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"),
        ("X-Content-Type-Options", "nosniff"),
        ("X-Frame-Options", "DENY"),
        ("Referrer-Policy", "same-origin"),
        ("Cross-Origin-Opener-Policy", "same-origin"),
    ]
}
