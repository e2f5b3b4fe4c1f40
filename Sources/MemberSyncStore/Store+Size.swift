import Foundation

extension Store {
    /// Bytes the replica takes on disk: the database file plus its WAL and shared-memory
    /// files, which is what an operator's disk alert sees (SQLite's page count alone misses
    /// a WAL that has grown between checkpoints).
    public func diskBytes() -> UInt64 {
        [path, path + "-wal", path + "-shm"].reduce(0) { total, file in
            let size = (try? FileManager.default.attributesOfItem(atPath: file)[.size] as? NSNumber)?.uint64Value ?? 0
            return total + size
        }
    }
}
