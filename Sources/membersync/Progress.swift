import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// A one-line progress bar for long imports and catch-up. It draws only when standard output
/// is a terminal and JSON was not asked for, so scripts and pipes never see control characters.
struct ProgressBar {
    let label: String
    let unit: String
    let enabled: Bool
    private var lastDraw = Date.distantPast
    private var drawn = false
    private let started = Date()

    init(label: String, unit: String, json: Bool) {
        self.label = label
        self.unit = unit
        enabled = !json && isatty(STDOUT_FILENO) == 1
    }

    /// Redraws at most ten times a second, and always when `done == total`.
    mutating func update(_ done: Int, of total: Int) {
        guard enabled, total > 0 else { return }
        let now = Date()
        guard done >= total || now.timeIntervalSince(lastDraw) >= 0.1 else { return }
        lastDraw = now
        let width = 30
        let fraction = min(1, max(0, Double(done) / Double(total)))
        let filled = Int(fraction * Double(width))
        let bar = String(repeating: "#", count: filled) + String(repeating: ".", count: width - filled)
        let text = "\r\u{1B}[2K\(label) [\(bar)] \(Int(fraction * 100))% \(done)/\(total) \(unit)" + Self.rate(done, seconds: now.timeIntervalSince(started), unit: unit)
        FileHandle.standardOutput.write(Data(text.utf8))
        drawn = true
    }

    /// `, 12.3k records/s` once there is something to divide.
    static func rate(_ done: Int, seconds: Double, unit: String) -> String {
        guard done > 0, seconds > 0 else { return "" }
        let r = Double(done) / seconds
        return (r >= 1000 ? String(format: ", %.1fk", r / 1000) : String(format: ", %.0f", r)) + " \(unit)/s"
    }

    /// Clears the bar so the summary line starts clean.
    mutating func finish() {
        guard enabled, drawn else { return }
        FileHandle.standardOutput.write(Data("\r\u{1B}[2K".utf8))
        drawn = false
    }
}
