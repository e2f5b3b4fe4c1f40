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
    /// When indexing last failed (monotonic nanoseconds).
    private var failedAt: UInt64?
    /// Whether an idle reactor has indexing to do: a backlog, and no failure in the last
    /// second (so a failing index, a full disk say, is retried, but not in a busy loop).
    var wantsIdleTurns: Bool {
        !backlog.isEmpty && failedAt.map { monotonicNanoseconds() &- $0 > 1_000_000_000 } != false
    }
    /// At shutdown, a backlog up to this size is indexed (about a second at most); the keys
    /// of a larger one are kept with the index for the next start.
    static let closingBacklogLimit = 20_000

    /// Opens the index in `dataDir` for `replica`, whose summary must be folded (see
    /// `Replica.foldChangedRecords`). The index is kept, with the backlog it was closed with,
    /// when it was marked for a replica with this id and digest (the digest covers every
    /// record's searched fields); else it is emptied with every record in the backlog. From
    /// here on it counts as incomplete until `close`, so a crash leaves it to be rebuilt.
    init(dataDir: String, replica: Replica) throws(StoreError) {
        index = try SearchIndex(path: DataDirectory.path(dataDir, SearchIndex.fileName))
        try index.checkpointInBackground()
        if try index.state() == Self.state(of: replica), let kept = Self.keptBacklog(try index.backlog(), of: replica) {
            backlog = kept
        } else {
            try index.removeAll()
            backlog = Set(replica.records.keys)
        }
        try index.markIncomplete()
    }

    /// Kept in place of a backlog of more than half the records: every record is in the
    /// backlog again (a superset is always correct: indexing a record again replaces its row).
    /// Reading a million keys back cost a restart about 2.5 s; the replica's own keys cost a
    /// fraction of that. A version that does not know this name rebuilds the index.
    static let wholeReplica = "*"

    /// What `close` keeps for `backlog`: its keys, or `wholeReplica` for most of the records.
    static func keptNames(_ backlog: Set<RecordKey>, of replica: Replica) -> [String] {
        backlog.count * 2 > replica.records.count ? [wholeReplica] : backlog.map(\.description)
    }

    /// The backlog kept by `close`, or nil when it does not read (the index is then rebuilt).
    private static func keptBacklog(_ names: [String], of replica: Replica) -> Set<RecordKey>? {
        names == [wholeReplica] ? Set(replica.records.keys) : recordKeys(names, of: replica)
    }

    /// The keys named, or nil when one is not a record key (the index is then rebuilt). A key
    /// the replica holds is taken as the replica's own instance, whose strings the records
    /// already keep: a backlog of a million keys then costs its set, not a million more ids.
    private static func recordKeys(_ names: [String], of replica: Replica) -> Set<RecordKey>? {
        var keys = Set<RecordKey>(minimumCapacity: names.count)
        for name in names {
            guard let parsed = try? RecordKey(parsing: name) else { return nil }
            keys.insert(replica.records.index(forKey: parsed).map { replica.records.keys[$0] } ?? parsed)
        }
        return keys
    }

    static func state(of replica: Replica) -> String { "\(replica.id) \(replica.digest())" }

    /// Notes records that changed (their text is taken when `indexSome` reaches them).
    mutating func noteChanged(_ keys: Set<RecordKey>) {
        if backlog.isEmpty { backlog = keys } else { backlog.formUnion(keys) }
    }

    /// Gives the index the current text of backlog records, in one transaction, until
    /// `nanoseconds` have passed or the backlog is empty.
    mutating func indexSome(_ replica: Replica, nanoseconds: UInt64) {
        guard !backlog.isEmpty else { return }
        let start = monotonicNanoseconds()
        var taken: [RecordKey] = []
        do {
            try index.update {
                guard monotonicNanoseconds() &- start < nanoseconds, let key = backlog.popFirst() else { return nil }
                taken.append(key)
                return (key.description, Directory.searchText(key, in: replica))
            }
        } catch {
            backlog.formUnion(taken)
            noteFailure("\(error)")
        }
    }

    mutating func noteFailure(_ reason: String) {
        failure = reason
        failedAt = monotonicNanoseconds()
    }

    /// `Directory.search`'s answer, from the index's candidates and the backlog.
    mutating func search(_ text: String, in only: CollectionSchema?, replica: Replica) throws(DirectoryError) -> [SearchHit] {
        try Directory.search(text, in: only, replica: replica, among: candidates(text).map(Set.init))
    }

    /// The records `text` may match, each once: the index's candidates and the backlog. Nil
    /// when the index cannot answer (a query under three characters, or the index failed):
    /// every record must then be matched.
    mutating func candidates(_ text: String) -> [RecordKey]? {
        let folded = SearchText.fold(text.trimmingCharacters(in: .whitespaces))
        let found: [String]?
        do { found = try index.candidates(folded) } catch {
            failure = "\(error)"
            found = nil
        }
        guard let found else { return nil }
        // The index names each record once; the backlog's keys are added unless named.
        var candidates: [RecordKey] = []
        candidates.reserveCapacity(found.count + backlog.count)
        for k in found {
            if let key = try? RecordKey(parsing: k), backlog.isEmpty || !backlog.contains(key) { candidates.append(key) }
        }
        candidates.append(contentsOf: backlog)
        return candidates
    }

    /// At shutdown: indexes a backlog of up to `indexingUpTo` records, and marks the index
    /// for `replica` with the rest of its backlog (`keptNames`), so the next start keeps both. Left
    /// unmarked (rebuilt at the next start) only when the index failed.
    mutating func close(_ replica: Replica, indexingUpTo limit: Int = Self.closingBacklogLimit) {
        if backlog.count <= limit { indexSome(replica, nanoseconds: .max) }
        guard failure == nil else { return }
        do { try index.markComplete(Self.state(of: replica), backlog: Self.keptNames(backlog, of: replica)) } catch { failure = "\(error)" }
    }
}
