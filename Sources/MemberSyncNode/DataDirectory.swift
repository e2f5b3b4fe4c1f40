import Foundation
import MemberSyncModel
import MemberSyncStore

#if canImport(Glibc)
import Glibc
#endif

/// The node's data directory on disk: who may read it, and which replica it holds.
///
/// The directory is kept at 0700 and the database files at 0600 at every start, whatever
/// they were: a stored value (in the database or its WAL) is nobody else's to read. A marker
/// file, `replica.id`, records the replica the directory holds once its database exists, so
/// a database that later goes missing or empty is refused instead of starting a new, empty
/// node in its place.
enum DataDirectory {
    static let replicaMarkerFile = "replica.id"

    static func path(_ dir: String, _ file: String) -> String { (dir as NSString).appendingPathComponent(file) }

    /// The database and the files SQLite keeps next to it.
    static func databaseFiles(_ dbPath: String) -> [String] { [dbPath, dbPath + "-wal", dbPath + "-shm", dbPath + "-journal"] }

    /// Creates the directory (0700), or tightens an existing one to 0700, and its database
    /// files to 0600. Refuses a directory or file owned by another user: tightening someone
    /// else's files is not ours to do, and running on them would leave them readable to them.
    static func secure(_ dir: String, databaseFile: String) throws {
        do {
            try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        } catch {
            throw NodeStartError(message: "cannot create the data directory \(dir): \(error.localizedDescription)")
        }
        try tighten(dir, mode: 0o700)
        for file in databaseFiles(path(dir, databaseFile)) where FileManager.default.fileExists(atPath: file) {
            try tighten(file, mode: 0o600)
        }
    }

    private static func tighten(_ file: String, mode: mode_t) throws {
        var st = stat()
        guard stat(file, &st) == 0 else {
            throw NodeStartError(message: "cannot read \(file): \(String(cString: strerror(errno)))")
        }
        guard st.st_uid == geteuid() else {
            throw NodeStartError(message: "\(file) belongs to user id \(st.st_uid), not to the user running membersyncd (\(geteuid())): run the node as its owner, or chown the data directory")
        }
        if st.st_mode & 0o777 != mode {
            guard chmod(file, mode) == 0 else {
                throw NodeStartError(message: "cannot set \(file) to mode \(String(mode, radix: 8)): \(String(cString: strerror(errno)))")
            }
        }
    }

    /// The replica id the directory's marker names, if the directory has held a replica.
    static func recordedReplica(_ dir: String) -> String? {
        guard let text = try? String(contentsOfFile: path(dir, replicaMarkerFile), encoding: .utf8) else { return nil }
        let id = text.trimmingCharacters(in: .whitespacesAndNewlines)
        return id.isEmpty ? nil : id
    }

    static func recordReplica(_ dir: String, _ id: ReplicaID) throws {
        do {
            try (id.description + "\n").write(toFile: path(dir, replicaMarkerFile), atomically: true, encoding: .utf8)
            chmod(path(dir, replicaMarkerFile), 0o600)
        } catch {
            throw NodeStartError(message: "cannot write \(path(dir, replicaMarkerFile)): \(error.localizedDescription)")
        }
    }

    /// Moves a damaged or unwanted database aside (`replica.sqlite.damaged-<time>`, with its
    /// WAL) and forgets the replica it held, so the node starts as a new replica that fetches
    /// everything from its hub. Returns where the old file went, if there was one.
    static func moveAside(_ dir: String, databaseFile: String, now: UInt64) throws -> String? {
        let db = path(dir, databaseFile)
        let target = db + ".damaged-\(now / 1000)"
        var moved: String?
        for (file, suffix) in zip(databaseFiles(db), ["", "-wal", "-shm", "-journal"]) where FileManager.default.fileExists(atPath: file) {
            do { try FileManager.default.moveItem(atPath: file, toPath: target + suffix) } catch {
                throw NodeStartError(message: "cannot move \(file) aside: \(error.localizedDescription)")
            }
            if suffix.isEmpty { moved = target }
        }
        try? FileManager.default.removeItem(atPath: path(dir, replicaMarkerFile))
        return moved
    }
}

/// One daemon per data directory: an exclusive `flock` on `membersyncd.lock`, released when
/// this object goes (or the process ends, however it ends).
final class DirectoryLock {
    private let fd: Int32

    init(path: String, dataDir: String) throws {
        fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0o600)
        guard fd >= 0 else {
            throw NodeStartError(message: "cannot open the lock file \(path): \(String(cString: strerror(errno))) (check that the data directory belongs to the user running membersyncd)")
        }
        guard flock(fd, LOCK_EX | LOCK_NB) == 0 else {
            close(fd)
            throw NodeStartError(message: "another membersyncd is already running with data directory \(dataDir)")
        }
    }

    deinit { close(fd) }
}
