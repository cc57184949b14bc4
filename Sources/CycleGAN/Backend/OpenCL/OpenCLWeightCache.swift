/// The operands a convolution derives from its weight (Winograd's transformed weights,
/// packed GEMM panels), kept while the weight is unchanged: a generator runs three times per
/// training step with the same weights (and its input gradients three times more), a
/// translation once per image or band, so each operand is made once per optimizer step
/// instead of once per pass.
///
/// An entry is valid for one buffer object at one `OpenCLBuffer.version`. Every launch that
/// takes a buffer, every upload and every copy into it gives it a new version (the launchers
/// name the buffers a kernel only reads, as the packers of this cache do), and an entry
/// found at another version is made again. So nothing can read a stale operand, whatever
/// writes the weight: Adam, a checkpoint load, a broadcast from another rank, a test.
///
/// A weight keeps one operand at a time: making another kind (the flipped transform of the
/// input gradient after the forward's) drops the first. A training step computes all its
/// forwards before its backwards, so the cache holds at most one operand per convolution
/// (about 151 MB for CycleGAN's two generators at ngf 64). Past `limitBytes`, the least
/// recently used entries go; `clear()` empties it (before a checkpoint is written, when the
/// device runs out of memory).
final class DerivedWeightCache {
    private struct Entry {
        weak var weight: OpenCLBuffer?
        var version: UInt64
        var kind: String
        var value: [Buffer]
        var bytes: Int
        var tick: Int
    }
    private var entries: [ObjectIdentifier: Entry] = [:]
    private var tick = 0
    /// The most bytes of operands held (`limit(to:)` lowers it).
    private(set) var limitBytes: Int
    private(set) var heldBytes = 0
    /// Lookups answered from the cache, and operands made.
    private(set) var hits = 0
    private(set) var misses = 0

    init(limitBytes: Int) { self.limitBytes = limitBytes }

    /// The operand of `kind` derived from `weight` (`bytes` in size), made by `make` unless
    /// it is held for the weight's current version.
    func operand(_ weight: Buffer, kind: String, bytes: Int, make: () -> Buffer) -> Buffer {
        operands(weight, kind: kind, bytes: bytes) { [make()] }[0]
    }

    /// The operands of `kind` (`bytes` in all), as `operand`.
    func operands(_ weight: Buffer, kind: String, bytes: Int, make: () -> [Buffer]) -> [Buffer] {
        guard let w = weight as? OpenCLBuffer else { return make() }
        let id = ObjectIdentifier(w)
        tick += 1
        if let e = entries[id], e.weight === w, e.version == w.version, e.kind == kind {
            entries[id]?.tick = tick
            hits += 1
            return e.value
        }
        misses += 1
        drop(id)
        for (key, e) in entries where e.weight == nil { drop(key) }  // weights freed since
        let value = make()
        guard bytes <= limitBytes else { return value }
        evict(toHold: limitBytes - bytes)
        entries[id] = Entry(weight: w, version: w.version, kind: kind, value: value, bytes: bytes, tick: tick)
        heldBytes += bytes
        return value
    }

    /// Holds at most `bytes` from now on (a translation within `--max_memory`), dropping the
    /// least recently used operands past it.
    func limit(to bytes: Int) {
        limitBytes = min(limitBytes, max(0, bytes))
        evict(toHold: limitBytes)
    }

    /// Drops what was derived from `weight` (it has just been written: the operand is stale,
    /// and its memory is free again before the next pass asks).
    func invalidate(_ weight: OpenCLBuffer) { drop(ObjectIdentifier(weight)) }

    func clear() {
        entries = [:]
        heldBytes = 0
    }

    /// Drops the least recently used operands until at most `bytes` are held.
    private func evict(toHold bytes: Int) {
        while heldBytes > bytes, let oldest = entries.min(by: { $0.value.tick < $1.value.tick }) { drop(oldest.key) }
    }

    private func drop(_ id: ObjectIdentifier) {
        guard let e = entries.removeValue(forKey: id) else { return }
        heldBytes -= e.bytes
    }
}
