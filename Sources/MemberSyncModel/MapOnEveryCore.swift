import Dispatch

extension Collection where Self: Sendable, Index: Sendable {
    /// `map(transform)`, with the elements split into `parts` contiguous ranges that Dispatch
    /// spreads over the cores; the results keep the collection's order. The ranges are of
    /// the collection itself, so nothing but the results is allocated (a million records
    /// need no copy of their entries). Below `sequentialBelow` elements, or with one part,
    /// it maps on the calling thread. Used where a node or the CLI does one independent
    /// piece of work per element of a large collection: a loaded replica's status shares,
    /// a store's record rows, an import file's lines.
    public func mapOnEveryCore<T: Sendable>(parts requested: Int, sequentialBelow: Int = 0, _ transform: @Sendable (Element) -> T) -> [T] {
        let total = count
        let parts = Swift.min(requested, total)
        guard total >= sequentialBelow, parts > 1 else { return map(transform) }
        let chunk = (total + parts - 1) / parts
        var starts = [startIndex]
        for _ in 0..<parts {
            starts.append(index(starts.last!, offsetBy: chunk, limitedBy: endIndex) ?? endIndex)
        }
        let bounds = starts
        return [T](unsafeUninitializedCapacity: total) { buffer, initialized in
            nonisolated(unsafe) let base = buffer.baseAddress!
            DispatchQueue.concurrentPerform(iterations: parts) { part in
                var offset = part * chunk
                for element in self[bounds[part]..<bounds[part + 1]] {
                    (base + offset).initialize(to: transform(element))
                    offset += 1
                }
            }
            initialized = total
        }
    }
}
