import MemberSyncDirectory
import MemberSyncModel
import MemberSyncStore

/// `search` over the node's replica through its `SearchIndex`, with the same answers as the
/// plain scan (`Directory.search` over every record): the index names candidate records,
/// every record changed since the index last took its text (`backlog`) is a candidate too,
/// and each candidate is matched exactly as the scan matches it. Queries the index cannot
/// answer (fewer than three folded characters) and an index that fails are served by the scan.
///
/// The index follows the replica a slice at a time (`indexSome`, in idle moments of the
/// reactor), never inside a commit: replication never waits for it, and a query never
/// misses a record it has not reached yet.
struct IndexedSearch {
    let index: SearchIndex
    /// Records whose current text the index may not hold.
    private(set) var backlog = Set<RecordKey>()
    /// Why the index last failed, until the node has logged it.
    var failure: String?
    /// At shutdown, a backlog up to this size is indexed so the index is marked complete and
    /// kept for the next start (about a second at most); a larger one is left to a rebuild.
    static let closingBacklogLimit = 20_000

    /// Opens the index in `dataDir` for `replica`, whose summary must be folded (see
    /// `Replica.foldChangedRecords`). The index is kept when it was marked complete for a
    /// replica with this id and digest (the digest covers every record's searched fields),
    /// else emptied with every record in the backlog. From here on it counts as incomplete
    /// until `close`, so a crash leaves it to be rebuilt.
    init(dataDir: String, replica: Replica) throws(StoreError) {
        index = try SearchIndex(path: DataDirectory.path(dataDir, SearchIndex.fileName))
        try index.checkpointInBackground()
        if try index.state() != Self.state(of: replica) {
            try index.removeAll()
            backlog = Set(replica.records.keys)
        }
        try index.markIncomplete()
    }

    static func state(of replica: Replica) -> String { "\(replica.id) \(replica.digest())" }

    /// Notes records that changed (their text is taken when `indexSome` reaches them).
    mutating func noteChanged(_ keys: Set<RecordKey>) {
        if backlog.isEmpty { backlog = keys } else { backlog.formUnion(keys) }
    }

    /// Gives the index the current text of backlog records, a few per transaction, until
    /// `nanoseconds` have passed or the backlog is empty.
    mutating func indexSome(_ replica: Replica, nanoseconds: UInt64) {
        let start = monotonicNanoseconds()
        while !backlog.isEmpty && monotonicNanoseconds() &- start < nanoseconds {
            var keys: [RecordKey] = []
            for _ in 0..<16 { if let k = backlog.popFirst() { keys.append(k) } }
            do { try index.update(keys.map { ($0.description, Directory.searchText($0, in: replica)) }) } catch {
                backlog.formUnion(keys)
                failure = "\(error)"
                return
            }
        }
    }

    /// `Directory.search`'s answer, from the index's candidates and the backlog.
    mutating func search(_ text: String, in only: CollectionSchema?, replica: Replica) throws(DirectoryError) -> [SearchHit] {
        let folded = SearchText.fold(text.trimmingCharacters(in: .whitespaces))
        let found: [String]?
        do { found = try index.candidates(folded) } catch {
            failure = "\(error)"
            found = nil
        }
        guard let found else { return try Directory.search(text, in: only, replica: replica) }
        var candidates = backlog
        for k in found { if let key = try? RecordKey(parsing: k) { candidates.insert(key) } }
        return try Directory.search(text, in: only, replica: replica, among: candidates)
    }

    /// At shutdown: indexes a small backlog and marks the index complete for `replica`, so the
    /// next start keeps it. A larger backlog leaves it incomplete (rebuilt at the next start).
    mutating func close(_ replica: Replica) {
        guard backlog.count <= Self.closingBacklogLimit else { return }
        indexSome(replica, nanoseconds: .max)
        guard backlog.isEmpty, failure == nil else { return }
        do { try index.markComplete(Self.state(of: replica)) } catch { failure = "\(error)" }
    }
}
