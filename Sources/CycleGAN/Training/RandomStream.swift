/// A seeded random stream (splitmix64): the trainer keeps separate ones for the pools and
/// for data, so that one consumer cannot shift another's numbers. Its whole state is one
/// integer, saved in the train state.
public struct RandomStream: Sendable {
    public var state: UInt64
    public init(seed: UInt64) { state = seed }

    public mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    /// Uniform in [0, 1).
    public mutating func uniform() -> Double { Double(next() >> 11) * (1.0 / 9_007_199_254_740_992.0) }

    /// Uniform integer in 0..<n.
    public mutating func int(below n: Int) -> Int { Int(next() % UInt64(n)) }
}

/// Where the image pool draws its randomness from: the trainer's stream, or a scripted
/// sequence in tests.
public protocol PoolRandomSource {
    /// Uniform in [0, 1).
    mutating func uniform() -> Double
    /// Uniform integer in 0..<n.
    mutating func int(below n: Int) -> Int
}

extension RandomStream: PoolRandomSource {}
