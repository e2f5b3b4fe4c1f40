import Foundation
import Logging

#if canImport(Glibc)
import Glibc
#endif

/// Writes one logfmt line per event to standard error:
/// `ts=… level=warning msg="link down" link=hub[0] peer.id=brussels silent_ms=3012`.
///
/// Why logfmt: one line per event, greppable by people and parseable by Loki, Vector or
/// `journalctl -o cat | …` alike, with no JSON noise. Under systemd (stderr connected to the
/// journal, see `JOURNAL_STREAM`) the line starts with a `<N>` syslog priority, which journald
/// turns into the entry's priority (so `journalctl -p warning` works), and `ts=` is left out
/// because journald stamps every entry itself.
struct LogfmtLogHandler: LogHandler {
    var logLevel: Logger.Level = .info
    var metadata: Logger.Metadata = [:]
    let label: String
    let journald: Bool
    private let write: @Sendable (String) -> Void

    init(label: String, journald: Bool = LogfmtLogHandler.stderrIsJournal(), write: @escaping @Sendable (String) -> Void = LogfmtLogHandler.writeStderr) {
        self.label = label
        self.journald = journald
        self.write = write
    }

    subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    func log(event: LogEvent) {
        var merged = metadata
        if let explicit = event.metadata { merged.merge(explicit) { _, new in new } }
        write(Self.format(level: event.level, message: "\(event.message)", metadata: merged, journald: journald, time: Date()))
    }

    /// One complete line, newline included. Metadata keys are sorted so lines diff well.
    static func format(level: Logger.Level, message: String, metadata: Logger.Metadata, journald: Bool, time: Date) -> String {
        var line = journald ? "<\(syslogPriority(level))>" : "ts=\(timestamp(time)) "
        line += "level=\(level.rawValue) msg=\(quote(message))"
        for key in metadata.keys.sorted() {
            line += " " + sanitiseKey(key) + "=" + quote(render(metadata[key]!))
        }
        return line + "\n"
    }

    /// Quotes a value when it is empty or holds spaces, `=`, `"` or anything non-printable;
    /// escapes so the result stays on one line.
    static func quote(_ value: String) -> String {
        let needsQuotes = value.isEmpty || value.unicodeScalars.contains { s in
            s == " " || s == "=" || s == "\"" || s == "\\" || s.value < 0x20 || s.value == 0x7f
        }
        guard needsQuotes else { return value }
        var out = "\""
        for s in value.unicodeScalars {
            switch s {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            default:
                if s.value < 0x20 || s.value == 0x7f {
                    out += "\\u" + String(repeating: "0", count: 4 - String(s.value, radix: 16).count) + String(s.value, radix: 16)
                } else {
                    out.unicodeScalars.append(s)
                }
            }
        }
        return out + "\""
    }

    /// Keys are identifiers with dots (`peer.id`); anything else becomes `_`.
    static func sanitiseKey(_ key: String) -> String {
        let cleaned = String(String.UnicodeScalarView(key.unicodeScalars.map { s in
            (s.properties.isAlphabetic && s.isASCII) || ("0"..."9").contains(s) || s == "." || s == "_" || s == "-" ? s : "_"
        }))
        return cleaned.isEmpty ? "_" : cleaned
    }

    static func render(_ value: Logger.Metadata.Value) -> String {
        switch value {
        case .string(let s): return s
        case .stringConvertible(let c): return c.description
        case .array(let a): return "[" + a.map(render).joined(separator: ",") + "]"
        case .dictionary(let d): return "{" + d.keys.sorted().map { "\($0):\(render(d[$0]!))" }.joined(separator: ",") + "}"
        }
    }

    /// RFC 5424 severities, as journald reads them from a `<N>` prefix.
    static func syslogPriority(_ level: Logger.Level) -> Int {
        switch level {
        case .trace, .debug: return 7
        case .info: return 6
        case .notice: return 5
        case .warning: return 4
        case .error: return 3
        case .critical: return 2
        }
    }

    static func timestamp(_ date: Date) -> String {
        let ms = Int64((date.timeIntervalSince1970 * 1000).rounded(.down))
        var t = time_t(ms / 1000)
        var parts = tm()
        gmtime_r(&t, &parts)
        return String(format: "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", Int(parts.tm_year) + 1900, Int(parts.tm_mon) + 1, Int(parts.tm_mday),
                      Int(parts.tm_hour), Int(parts.tm_min), Int(parts.tm_sec), Int(ms % 1000))
    }

    /// True when stderr is the journal stream systemd set up: `JOURNAL_STREAM` holds the
    /// `device:inode` of that stream, and it must match fd 2 (a child that redirected stderr
    /// inherits the variable but not the stream).
    static func stderrIsJournal() -> Bool {
        guard let value = ProcessInfo.processInfo.environment["JOURNAL_STREAM"] else { return false }
        let parts = value.split(separator: ":")
        guard parts.count == 2, let dev = UInt64(parts[0]), let ino = UInt64(parts[1]) else { return false }
        var st = stat()
        guard fstat(2, &st) == 0 else { return false }
        return UInt64(st.st_dev) == dev && UInt64(st.st_ino) == ino
    }

    /// One `write(2)` per line, so lines from different threads never interleave.
    @Sendable static func writeStderr(_ line: String) {
        var bytes = Array(line.utf8)
        var offset = 0
        while offset < bytes.count {
            let n = bytes.withUnsafeMutableBytes { Glibc.write(2, $0.baseAddress! + offset, $0.count - offset) }
            if n > 0 { offset += n } else if n < 0 && errno == EINTR { continue } else { return }
        }
    }
}
