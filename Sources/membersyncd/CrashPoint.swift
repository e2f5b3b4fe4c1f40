import Foundation
import MemberSyncStore

#if canImport(Glibc)
import Glibc
#endif

/// Crash tests only: `MEMBERSYNC_CRASH_AT=LABEL:N` makes the daemon kill itself with SIGKILL
/// the Nth time it passes the point LABEL inside a write path (`Store.faultPoint`: for
/// example `import.mid`, inside the transaction of the Nth import commit, or
/// `checkpoint.committed`, right after a checkpoint). Without the variable nothing is
/// installed and the points cost one nil check.
enum CrashPoint {
    static func installFromEnvironment() {
        guard let spec = ProcessInfo.processInfo.environment["MEMBERSYNC_CRASH_AT"], !spec.isEmpty else { return }
        let parts = spec.split(separator: ":", maxSplits: 1)
        let label = String(parts[0])
        let target = parts.count > 1 ? Int(parts[1]) ?? 1 : 1
        FileHandle.standardError.write(Data("membersyncd: crash test: SIGKILL at pass \(target) of \(label)\n".utf8))
        // Set before the node starts its reactor; only the reactor thread calls it.
        nonisolated(unsafe) var passes = 0
        Store.faultPoint = { point in
            guard point == label else { return }
            passes += 1
            if passes >= target { kill(getpid(), SIGKILL) }
        }
    }
}
