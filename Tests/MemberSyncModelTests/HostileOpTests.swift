import XCTest
@testable import MemberSyncModel

/// Ops a member holding an admitted key could sign and send (issue 13): each attack is
/// reproduced at model level and must neither crash, bloat nor poison the replica.
final class HostileOpTests: XCTestCase {
    static let now: UInt64 = 1_700_000_000_000
    let t: @Sendable () -> UInt64 = { HostileOpTests.now }
    let victim = ReplicaID(node: "brussels", epoch: 1)
    let mallory = ReplicaID(node: "mallory", epoch: 1)
    let key = RecordKey(collection: "projects", id: "catchmr")

    func replica(_ id: ReplicaID) -> Replica {
        var r = Replica(id: id, wallClock: t)
        r.maxClockSkewMilliseconds = 86_400_000
        return r
    }

    /// An op of `origin` numbered `counter`, writing `field = value` with the given context.
    func op(_ origin: ReplicaID, _ counter: UInt64, hlc: HLC = HLC(milliseconds: HostileOpTests.now, logical: 0),
            field: String = "title", _ value: String = "x", context: VersionVector = VersionVector()) -> Op {
        let dot = Dot(origin, counter)
        let r = Register(siblings: [Sibling(dot: dot, hlc: hlc, value: Value.string(value))], context: context)
        let exists = Register(siblings: [Sibling(dot: dot, hlc: hlc, value: Value.bool(true))], context: VersionVector())
        return Op(origin: origin, counter: counter, hlc: hlc, key: key, fields: [field: .register(r), Record.existsField: .register(exists)])
    }

    func refusal(_ body: () throws -> Void) -> RefusalReason? {
        do { try body(); return nil } catch {
            if case .refused(let reason, _)? = error as? ModelError { return reason }
            return nil
        }
    }

    // MARK: 1. counter bombs

    func testCounterBombsAreRefusedAndAllocateNothing() throws {
        var r = replica(victim)
        _ = try r.write(key, [.assign(field: "title", value: .string("CatchMR"))])
        let before = r.digest()
        for counter: UInt64 in [1 << 63, 30_000_000, UInt64.max, Limits.maxCounterGap + 1] {
            XCTAssertEqual(refusal { try r.apply(op(mallory, counter)) }, .gapTooLarge, "counter \(counter)")
        }
        XCTAssertEqual(r.digest(), before, "nothing applied")
        XCTAssertEqual(r.logCount, 1)
        XCTAssertEqual(r.version[mallory], 0)
        // Just inside the gap is held ahead of it (as before), and served without walking the gap.
        XCTAssertEqual(try r.apply(op(mallory, Limits.maxCounterGap)), .applied)
        XCTAssertEqual(r.aheadCount, 1)
        guard case .ops(let served) = r.ops(since: VersionVector()) else { return XCTFail() }
        XCTAssertEqual(served.map(\.counter), [1, Limits.maxCounterGap])
    }

    func testTheOpLogStoresFarCountersSparsely() {
        var log = OriginLog()
        let far = op(mallory, 1 << 63)
        log.insert(far)
        log.insert(op(mallory, UInt64.max))
        XCTAssertEqual(log.heldCount, 2)
        XCTAssertEqual(log.ops.count, 0, "no dense array up to the counter")
        XCTAssertEqual(log.op(1 << 63), far)
        XCTAssertEqual(log.highest, UInt64.max)
        var seen: [UInt64] = []
        log.forEach(after: 0) { seen.append($0.counter); return true }
        XCTAssertEqual(seen, [1 << 63, UInt64.max])
        // The gap filling turns ahead ops into the dense run.
        var small = OriginLog()
        small.insert(op(mallory, 3)); small.insert(op(mallory, 2))
        XCTAssertEqual(small.ops.count, 0)
        small.insert(op(mallory, 1))
        XCTAssertEqual(small.ops.map(\.counter), [1, 2, 3])
        XCTAssertTrue(small.ahead.isEmpty)
        small.compact(through: 2)
        XCTAssertEqual(small.ops.map(\.counter), [3])
        XCTAssertEqual(small.heldCount, 1)
        log.compact(through: 1 << 62)
        XCTAssertEqual(log.heldCount, 2)
        log.compact(through: 1 << 63)
        XCTAssertEqual(log.heldCount, 1)
        XCTAssertNil(log.op(1 << 63))
    }

    /// A store written before the gap limit may hold a bomb: restoring it must not allocate
    /// up to its counter, and the replica keeps working.
    func testRestoringAStoredBombAllocatesNothingAndCountersStayChecked() throws {
        var r = Replica(restoring: victim, wallClock: t, records: [:], version: VersionVector(), floor: VersionVector(),
                        ops: [op(mallory, 30_000_000), op(mallory, 1 << 63)])
        XCTAssertEqual(r.logCount, 0)
        XCTAssertEqual(r.aheadCount, 0)
        XCTAssertEqual(try r.apply(op(mallory, 1)), .applied)
        // A version at the maximum (say from a hostile snapshot) refuses local writes instead of trapping.
        var full = Replica(restoring: victim, wallClock: t, records: [:], version: VersionVector([victim: .max]), floor: VersionVector(), ops: [])
        XCTAssertEqual(refusal { _ = try full.write(key, [.assign(field: "title", value: .string("x"))]) }, .counterExhausted)
        XCTAssertEqual(VersionVector([victim: .max, mallory: .max]).total, .max, "sums saturate")
        XCTAssertEqual(VersionVector().missing(from: VersionVector([victim: .max, mallory: .max])), .max)
    }

    // MARK: 2. clocks

    func testHLCArithmeticSaturates() {
        XCTAssertEqual(HLC(milliseconds: HLC.maxMilliseconds + 1, logical: 0), .max, "no wrap to 1970")
        var clock = HybridClock(wallClock: { 1000 })
        clock.observe(.max)
        XCTAssertEqual(clock.now(), .max)
        XCTAssertEqual(clock.now(), .max, "stays at the top instead of wrapping to 0")
        var nearTop = HybridClock(wallClock: { 1000 }, last: HLC(milliseconds: HLC.maxMilliseconds - 1, logical: .max))
        XCTAssertEqual(nearTop.now(), HLC(milliseconds: HLC.maxMilliseconds, logical: 0))
    }

    func testAnOpFarAheadOfTheClockIsRefusedAndLaterEditsKeepRealTime() throws {
        var r = replica(victim)
        let bomb = op(mallory, 1, hlc: .max)
        XCTAssertEqual(refusal { try r.apply(bomb) }, .clockSkew)
        let dayAndMore = HLC(milliseconds: Self.now + 86_400_000 + 1, logical: 0)
        XCTAssertEqual(refusal { try r.apply(op(mallory, 1, hlc: dayAndMore)) }, .clockSkew)
        XCTAssertEqual(try r.apply(op(mallory, 1, hlc: HLC(milliseconds: Self.now + 3_600_000, logical: 0))), .applied, "an hour ahead is fine")
        let edit = try r.write(key, [.assign(field: "title", value: .string("Later"))])
        XCTAssertGreaterThan(edit.hlc.milliseconds, Self.now, "passes what it observed")
        XCTAssertLessThanOrEqual(edit.hlc.milliseconds, Self.now + 3_600_000 + 1, "and stays near real time")
        // Restoring a store that holds a stamp at the top does not drag the clock there either.
        var restored = Replica(restoring: victim, wallClock: t, records: [:], version: VersionVector([mallory: 1]),
                               floor: VersionVector(), ops: [bomb])
        let next = try restored.write(key, [.assign(field: "title", value: .string("After restart"))])
        XCTAssertNotEqual(next.hlc, .max)
        XCTAssertGreaterThan(next.hlc.raw, 0)
        XCTAssertLessThanOrEqual(next.hlc.milliseconds, Self.now + 86_400_000 + 1)
    }

    // MARK: 3. contexts that claim too much

    /// Issue 13, item 2: a context claiming {every replica: 2^62} left `title` without siblings
    /// everywhere, and every later write vanished into it.
    func testContextsClaimingUnheldDotsCannotRetireValues() throws {
        var hub = replica(victim)
        let first = try hub.write(key, [.assign(field: "title", value: .string("CatchMR"))])
        XCTAssertEqual(first.counter, 1)
        let wipe = op(mallory, 1, "gone", context: VersionVector([victim: 1 << 62]))
        XCTAssertEqual(refusal { try hub.apply(wipe) }, .gapTooLarge)
        // Claiming a dot just ahead waits: it applies only once the hub holds that dot.
        let early = op(mallory, 1, "early", context: VersionVector([victim: 2]))
        XCTAssertEqual(refusal { try hub.apply(early) }, .causality)
        XCTAssertEqual(hub.unmetDependency(early), Dot(victim, 2))
        XCTAssertFalse(hub.holds(early.dot), "not held: fetched again later")
        // Its own origin's dots beyond the op itself: events it never made. Refused outright.
        let selfClaim = op(mallory, 1, "self", context: VersionVector([mallory: 5]))
        XCTAssertEqual(refusal { try hub.apply(selfClaim) }, .badContext)
        XCTAssertEqual(hub.view(key)?.field("title")?.value, .string("CatchMR"), "nothing retired")
        // Later writes still show.
        _ = try hub.write(key, [.assign(field: "title", value: .string("CatchMR 2"))])
        XCTAssertEqual(hub.view(key)?.field("title")?.value, .string("CatchMR 2"))
        // Now the early op's claim is true, and it applies as a write that saw victim:2.
        XCTAssertEqual(try hub.apply(early), .applied)
        XCTAssertEqual(hub.view(key)?.field("title")?.value, .string("early"))
    }

    /// Causal delivery: an op arriving before an op its writer had seen waits, then applies;
    /// the result equals delivery in causal order.
    func testAnOpWaitsForItsCausalPastAndTheResultEqualsCausalOrder() throws {
        var a = replica(ReplicaID(node: "asker", epoch: 1))
        var b = replica(ReplicaID(node: "baerum", epoch: 1))
        let fromA = try a.write(key, [.assign(field: "title", value: .string("A")), .add(field: "topics", element: "climate")])
        try b.apply(fromA)
        let fromB = try b.write(key, [.assign(field: "title", value: .string("B")), .remove(field: "topics", element: "climate")])
        var inOrder = replica(ReplicaID(node: "oslo", epoch: 1))
        try inOrder.apply(fromA); try inOrder.apply(fromB)
        var reversed = replica(ReplicaID(node: "hamar", epoch: 1))
        var buffer = CausalBuffer()
        XCTAssertEqual(refusal { try reversed.apply(fromB) }, .causality)
        buffer.hold(fromB)
        XCTAssertTrue(buffer.takeReady(for: reversed).isEmpty)
        try reversed.apply(fromA)
        XCTAssertEqual(reversed.view(key)?.field("topics")?.members, ["climate"], "before B arrives, A's add shows")
        let ready = buffer.takeReady(for: reversed)
        XCTAssertEqual(ready, [fromB])
        for o in ready { try reversed.apply(o) }
        XCTAssertTrue(buffer.isEmpty)
        XCTAssertEqual(reversed.digest(), inOrder.digest())
        XCTAssertEqual(reversed.view(key)?.field("title")?.value, .string("B"))
        XCTAssertTrue((reversed.view(key)?.field("topics")?.members ?? []).isEmpty, "B's remove applied")
    }

    func testTheWaitBufferIsBoundedAndDropsTheOldest() {
        var buffer = CausalBuffer(maxOps: 3, maxBytes: 1 << 20)
        var evicted = 0
        for c in UInt64(1)...5 { evicted += buffer.hold(op(mallory, c, context: VersionVector([victim: 9]))) }
        XCTAssertEqual(buffer.count, 3)
        XCTAssertEqual(evicted, 2)
        XCTAssertFalse(buffer.contains(Dot(mallory, 1)))
        XCTAssertTrue(buffer.contains(Dot(mallory, 5)))
        XCTAssertEqual(buffer.hold(op(mallory, 5)), 0, "a second copy of a waiting dot adds nothing")
        var bySize = CausalBuffer(maxOps: 100, maxBytes: 3 * EncodedSize.op(op(mallory, 1, context: VersionVector([victim: 9]))))
        for c in UInt64(1)...10 { bySize.hold(op(mallory, c, context: VersionVector([victim: 9]))) }
        XCTAssertEqual(bySize.count, 3)
        XCTAssertLessThanOrEqual(bySize.bytes, bySize.maxBytes)
    }

    // MARK: 4. siblings and apply cost

    /// Issue 13, item 5: 2,000 concurrent writers on one field made applying quadratic (46.6 s)
    /// and the record too big to bootstrap from. Past `maxSiblings` ops are refused, and
    /// applying stays fast.
    func testManyConcurrentWritersAreBoundedAndApplyStaysFast() throws {
        var hub = replica(victim)
        let started = Date()
        var refused = 0
        for i in 0..<2000 {
            let writer = ReplicaID(node: "writer-\(i)", epoch: 1)
            let value = String(repeating: "v", count: 4000) + "\(i)"
            let o = op(writer, 1, value)
            if refusal({ try hub.apply(o) }) == .tooManySiblings { refused += 1 }
        }
        let elapsed = Date().timeIntervalSince(started)
        XCTAssertEqual(refused, 2000 - Limits.maxSiblings)
        let title = hub.record(key)!.register("title")
        XCTAssertEqual(title.siblings.count, Limits.maxSiblings)
        XCTAssertLessThan(elapsed, 10, "2,000 ops on one field apply in far less than the 46.6 s of quadratic joins")
        XCTAssertLessThanOrEqual(EncodedSize.record(key, hub.record(key)!), Limits.maxRecordBytes)
        // A write that saw them resolves the conflict, and the register is small again.
        _ = try hub.write(key, [.assign(field: "title", value: .string("Resolved"))])
        XCTAssertEqual(hub.record(key)!.register("title").siblings.count, 1)
    }

    /// Issue 13, item 4: signatures name the node, not the epoch, so a member could mint
    /// replica ids until version vectors could no longer be sent. A node gets a few.
    func testOneNodeCannotMintReplicaIdsWithoutBound() throws {
        var hub = replica(victim)
        var refused = 0
        for epoch in 1...100_010 {
            let o = op(ReplicaID(node: "mallory", epoch: UInt32(epoch)), 1)
            if refusal({ try hub.apply(o) }) == .tooManyEpochs { refused += 1 }
            if epoch == 1000 { break }
        }
        XCTAssertEqual(refused, 1000 - Limits.maxEpochsPerNode)
        XCTAssertEqual(hub.version.count, Limits.maxEpochsPerNode)
        // Known epochs keep working; other nodes are unaffected.
        XCTAssertEqual(try hub.apply(op(ReplicaID(node: "mallory", epoch: 1), 2)), .applied)
        XCTAssertEqual(try hub.apply(op(ReplicaID(node: "asker", epoch: 1), 1)), .applied)
    }

    /// A set grows one element per op; each join touches only that element (the set is not
    /// copied), and the element limit holds for local and remote writes alike.
    func testSetLimitsHoldForLocalAndRemoteWrites() throws {
        var r = replica(victim)
        let org = RecordKey(collection: "organisations", id: "asker")
        for i in 0..<Limits.maxSetElements {
            _ = try r.write(org, [.add(field: "topics", element: "topic-\(i)")])
        }
        XCTAssertEqual(refusal { _ = try r.write(org, [.add(field: "topics", element: "one-too-many")]) }, .tooManyElements)
        // Removed elements keep their state, so removing does not make room.
        _ = try r.write(org, [.remove(field: "topics", element: "topic-0")])
        XCTAssertEqual(refusal { _ = try r.write(org, [.add(field: "topics", element: "still-too-many")]) }, .tooManyElements)
        // Changing elements already there is fine.
        _ = try r.write(org, [.add(field: "topics", element: "topic-0")])
        let set = r.record(org)!.set("topics")
        XCTAssertEqual(set.elements.count, Limits.maxSetElements)
        XCTAssertEqual(set.elementBytes, ORSet(elements: set.elements).elementBytes, "the running byte count is exact")
        // The same limit for an op from elsewhere.
        var other = replica(mallory)
        for i in 0..<Limits.maxSetElements { _ = try other.write(org, [.add(field: "topics", element: "other-\(i)")]) }
        guard case .ops(let ops) = other.ops(since: VersionVector()) else { return XCTFail() }
        let last = ops.last!
        var receiver = replica(ReplicaID(node: "oslo", epoch: 1))
        for o in ops.dropLast() { try receiver.apply(o) }
        _ = try receiver.write(org, [.add(field: "topics", element: "mine")])
        XCTAssertEqual(refusal { try receiver.apply(last) }, .tooManyElements)
        XCTAssertFalse(receiver.holds(last.dot))
        // An op carrying more elements than a set may hold is refused even on a fresh record.
        var big = ORSet()
        for i in 0...Limits.maxSetElements { big.join(ORSet().writing("e\(i)", present: true, dot: Dot(mallory, 1), hlc: HLC(raw: 1))) }
        let bulk = Op(origin: mallory, counter: 1, hlc: HLC(raw: 1), key: RecordKey(collection: "organisations", id: "x"), fields: ["topics": .set(big)])
        var fresh = replica(ReplicaID(node: "drammen", epoch: 1))
        XCTAssertEqual(refusal { try fresh.apply(bulk) }, .tooManyElements)
        XCTAssertNil(fresh.record(bulk.key), "no empty record left behind")
    }

    /// Every collection's worst case within the limits stays under the record limit, and the
    /// record limit under the snapshot page budget (half the 8 MiB message limit).
    func testTheLimitsTableImpliesTheRecordLimit() {
        for (name, c) in Schema.memberSync.collections {
            let sets = c.fields.values.filter(\.isSet).count
            let registers = c.fields.count - sets + 1  // + $exists
            let worst = registers * (Limits.maxRegisterBytes + 64) + sets * (Limits.maxSetBytes + 64) + 256
            XCTAssertLessThanOrEqual(worst, Limits.maxRecordBytes, name)
        }
        XCTAssertLessThanOrEqual(Limits.maxRecordBytes, 4 * 1024 * 1024)
        XCTAssertLessThanOrEqual(Limits.maxSiblings * (Limits.maxTextBytes + 200), Limits.maxRegisterBytes)
        XCTAssertLessThanOrEqual(Limits.maxSetElements * (Limits.maxElementBytes + 200), Limits.maxSetBytes)
        // A set's running byte count is kept in 32 bits (`ORSet.elementBytes`).
        XCTAssertLessThan(Limits.maxSetBytes * 2, Int(UInt32.max))
    }

    /// Every record's field table holds one `FieldState` per field: it stays at 16 bytes (a
    /// 64-bit integer in `ORSet` made it 24), which is 8 bytes per bucket in every record held.
    func testAFieldStateTakesSixteenBytes() {
        XCTAssertEqual(MemoryLayout<FieldState>.stride, 16)
    }
}
