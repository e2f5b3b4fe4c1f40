import CSQLite
import Foundation

/// Copies a WAL database's committed pages back into its main file on a thread and
/// connection of its own, so the thread that commits never does it.
///
/// Why: SQLite's automatic checkpoint runs inside the commit that takes the WAL past 1,000
/// pages. With `synchronous=FULL` it writes those pages into the database file and syncs it,
/// a few milliseconds that land on one edit in a few hundred, which is the reactor's latency
/// tail. Here the committing connection's WAL hook (`install(on:)`) only wakes this thread
/// once the WAL holds `wakeAtPages`; the thread runs a PASSIVE checkpoint, which never blocks
/// a writer. Should it fall behind (a long bulk catch-up that never pauses), the hook checkpoints
/// inline once the WAL holds `inlineAtPages`, so the WAL stays bounded as before.
final class WALCheckpointer: @unchecked Sendable {
    /// Pages in the WAL at which the thread is woken: SQLite's own automatic threshold.
    static let defaultWakeAtPages: Int32 = 1_000
    /// Pages at which the committing connection checkpoints inline (64 MiB of 4 KiB pages).
    static let defaultInlineAtPages: Int32 = 16_384

    let wakeAtPages: Int32
    let inlineAtPages: Int32
    private let db: SQLiteDatabase
    private let condition = NSCondition()
    private var requested = false
    private var stopping = false
    private let finished = DispatchSemaphore(value: 0)
    /// Checkpoints run by the thread, and inline by the hook (read by tests through `counts`).
    private var threadCheckpoints = 0
    private var inlineCheckpoints = 0

    /// Opens a second connection to `path` (which must exist, in WAL mode) with the given
    /// `synchronous` level, the one the committing connection uses, and starts its thread.
    init(path: String, synchronous: String, wakeAtPages: Int32 = defaultWakeAtPages,
         inlineAtPages: Int32 = defaultInlineAtPages) throws {
        self.wakeAtPages = wakeAtPages
        self.inlineAtPages = inlineAtPages
        db = try SQLiteDatabase(path: path, create: false)
        try db.execute("PRAGMA synchronous=\(synchronous)")
        let thread = Thread { [self] in
            run()
            finished.signal()
        }
        thread.name = "wal-checkpoint"
        thread.start()
    }

    /// Starts a checkpointer for `connection`'s database at `path` and installs it on
    /// `connection`: what `Store` and `SearchIndex` do to checkpoint in the background.
    static func start(for connection: SQLiteDatabase, path: String, synchronous: String,
                      wakeAtPages: Int32 = defaultWakeAtPages, inlineAtPages: Int32 = defaultInlineAtPages) throws(StoreError) -> WALCheckpointer {
        do {
            let c = try WALCheckpointer(path: path, synchronous: synchronous, wakeAtPages: wakeAtPages, inlineAtPages: inlineAtPages)
            c.install(on: connection)
            return c
        } catch let e as SQLiteError { throw .sqlite(e) } catch { throw .corrupt("\(error)") }
    }

    /// Makes `connection`'s commits wake this checkpointer (in place of SQLite's automatic
    /// checkpoint). The checkpointer must outlive the hook: `stop()` removes it.
    func install(on connection: SQLiteDatabase) {
        sqlite3_wal_hook(connection.handle, { context, connection, name, pages in
            let checkpointer = Unmanaged<WALCheckpointer>.fromOpaque(context!).takeUnretainedValue()
            if pages >= checkpointer.inlineAtPages {
                // Behind: do it here (PASSIVE; SQLITE_BUSY while the thread is at it is fine).
                _ = sqlite3_wal_checkpoint_v2(connection, name, SQLITE_CHECKPOINT_PASSIVE, nil, nil)
                checkpointer.counted { $0.inlineCheckpoints += 1 }
            } else if pages >= checkpointer.wakeAtPages {
                checkpointer.request()
            }
            return SQLITE_OK
        }, Unmanaged.passUnretained(self).toOpaque())
    }

    /// Asks for a checkpoint soon (cheap: called after commits).
    func request() {
        condition.lock()
        requested = true
        condition.signal()
        condition.unlock()
    }

    /// Removes the hook from `connection`, restores SQLite's automatic checkpoint on it, and
    /// waits for the thread to end (after the checkpoint it may be running).
    func stop(restoringAutomaticOn connection: SQLiteDatabase) {
        sqlite3_wal_autocheckpoint(connection.handle, Self.defaultWakeAtPages)
        condition.lock()
        stopping = true
        condition.signal()
        condition.unlock()
        finished.wait()
    }

    /// The counts, read under the lock.
    var counts: (thread: Int, inline: Int) {
        condition.lock()
        defer { condition.unlock() }
        return (threadCheckpoints, inlineCheckpoints)
    }

    private func counted(_ change: (WALCheckpointer) -> Void) {
        condition.lock()
        change(self)
        condition.unlock()
    }

    private func run() {
        condition.lock()
        while !stopping {
            if requested {
                requested = false
                condition.unlock()
                _ = sqlite3_wal_checkpoint_v2(db.handle, nil, SQLITE_CHECKPOINT_PASSIVE, nil, nil)
                condition.lock()
                threadCheckpoints += 1
            } else {
                condition.wait()
            }
        }
        condition.unlock()
    }
}
