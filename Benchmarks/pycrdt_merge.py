#!/usr/bin/env python3
"""Merge-core baseline: Yrs (through pycrdt) applying the same per-op stream as MemberSync.

Input: the abstract op stream written by `membersync-bench` (JSON Lines, one op per line):
    [origin, flat_key, value, concurrent]
where flat_key is `collection/id/field` for a scalar field and `collection/id/field/element`
for a set element (value true = add, false = remove), and `concurrent` says the writer had not
seen the previous write of that key.

Every op becomes one Yjs v1 update that sets one key of the root Y.Map "m", exactly as a
source Y.Doc with client id 1000 + origin would emit it from one transaction: one Item with
ContentAny, its left origin = the item of that key the writer had seen (its predecessor, or for
a concurrent write the one before), and a delete set naming the item it replaced. Generating
the updates is not timed. `--verify N` rebuilds the first N causal ops with real pycrdt source
docs (one per origin, brought up to date before each write) and checks that the bytes are
identical.

Timed (wall and thread CPU time; the best of --repeat runs): a fresh Doc applying every update in stream order with `Doc.apply_update` (decode +
integrate + delete, one transaction per update). Prints one JSON object.
"""
import argparse
import json
import struct
import sys
import time

from pycrdt import Doc, Map


def varuint(out, n):
    while n > 0x7F:
        out.append(0x80 | (n & 0x7F))
        n >>= 7
    out.append(n)


def varstring(out, s):
    b = s.encode("utf-8")
    varuint(out, len(b))
    out.extend(b)


def any_value(out, v):
    # lib0 "any" encoding as Yrs writes it for values coming from Python.
    if v is True:
        out.append(120)
    elif v is False:
        out.append(121)
    elif isinstance(v, int):
        f = float(v)
        f32 = struct.unpack(">f", struct.pack(">f", f))[0]
        if f32 == f:
            out.append(124)
            out.extend(struct.pack(">f", f))
        else:
            out.append(123)
            out.extend(struct.pack(">d", f))
    else:
        out.append(119)
        varstring(out, v)


def encode_update(client, clock, key, value, left):
    """One map-set update: item (client, clock) for `key`, left origin `left` or None."""
    out = bytearray()
    varuint(out, 1)  # clients with structs
    varuint(out, 1)  # structs of this client
    varuint(out, client)
    varuint(out, clock)
    if left is None:
        out.append(0x20 | 8)  # parentSub | ContentAny
        varuint(out, 1)  # parent is a root type, named by string
        varstring(out, "m")
        varstring(out, key)
    else:
        out.append(0x80 | 0x20 | 8)  # origin | parentSub (implied by the origin, not written) | ContentAny
        varuint(out, left[0])
        varuint(out, left[1])
    varuint(out, 1)  # one value
    any_value(out, value)
    if left is None:
        varuint(out, 0)  # empty delete set
    else:
        varuint(out, 1)
        varuint(out, left[0])
        varuint(out, 1)
        varuint(out, left[1])
        varuint(out, 1)
    return bytes(out)


def build_updates(ops):
    clocks = {}
    history = {}  # flat key -> list of item ids, in stream order
    updates = []
    for origin, key, value, concurrent in ops:
        client = 1000 + origin
        clock = clocks.get(client, 0)
        clocks[client] = clock + 1
        h = history.setdefault(key, [])
        seen = h[:-1] if (concurrent and h) else h
        left = seen[-1] if seen else None
        updates.append(encode_update(client, clock, key, value, left))
        h.append((client, clock))
    return updates


def verify(ops, n):
    """Regenerates the first n causal ops with real pycrdt docs and compares bytes."""
    mirror = Doc(client_id=1)
    mirror.get("m", type=Map)
    docs = {}
    checked = 0
    expected = build_updates(ops[:n])
    for i, (origin, key, value, concurrent) in enumerate(ops[:n]):
        if concurrent:
            # A concurrent write changes which item the writer had seen; real source docs
            # cannot skip one update, so only causal ops are compared byte for byte.
            mirror.apply_update(expected[i])
            continue
        doc = docs.get(origin)
        if doc is None:
            doc = docs[origin] = Doc(client_id=1000 + origin)
            doc.get("m", type=Map)
        doc.apply_update(mirror.get_update(doc.get_state()))
        got = []
        sub = doc.observe(lambda e: got.append(e.update))
        doc.get("m", type=Map)[key] = value
        doc.unobserve(sub)
        if got[0] != expected[i]:
            raise SystemExit(f"verify: op {i} differs\n  pycrdt: {list(got[0])}\n  ours:   {list(expected[i])}")
        mirror.apply_update(got[0])
        checked += 1
    return checked


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("stream")
    ap.add_argument("--verify", type=int, default=0)
    ap.add_argument("--repeat", type=int, default=1)
    args = ap.parse_args()
    with open(args.stream) as f:
        ops = [json.loads(line) for line in f if line.strip()]
    verified = verify(ops, min(args.verify, len(ops))) if args.verify else 0
    updates = build_updates(ops)
    best = best_cpu = None
    for _ in range(args.repeat):
        doc = Doc(client_id=7)
        m = doc.get("m", type=Map)
        apply = doc.apply_update
        t0, c0 = time.perf_counter(), time.thread_time()
        for u in updates:
            apply(u)
        dt, dc = time.perf_counter() - t0, time.thread_time() - c0
        keys = len(m)
        best = dt if best is None else min(best, dt)
        best_cpu = dc if best_cpu is None else min(best_cpu, dc)
    import pycrdt
    print(json.dumps({
        "ops": len(updates),
        "seconds": best,
        "cpu_seconds": best_cpu,
        "ops_per_second": len(updates) / best,
        "ops_per_cpu_second": len(updates) / best_cpu,
        "update_bytes_mean": sum(map(len, updates)) / len(updates),
        "final_keys": keys,
        "verified_ops": verified,
        "pycrdt_version": getattr(pycrdt, "__version__", "?"),
        "python": sys.version.split()[0],
    }))


if __name__ == "__main__":
    main()
