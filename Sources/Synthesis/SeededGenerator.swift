/// SplitMix64: a tiny, fast generator whose sequence depends only on its seed, on every platform.
/// Synthetic answers draw from it, seeded by the request's fingerprint, so nothing depends on time or chance.
public struct SeededGenerator: RandomNumberGenerator, Sendable {
    private var state: UInt64

    public init(seed: UInt64) { state = seed }

    public mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    /// A number in `range`, computed without the standard library's unspecified sampling algorithm.
    /// Wrapping arithmetic: any range works, `Int.min...Int.max` included.
    public mutating func int(in range: ClosedRange<Int>) -> Int {
        let span = UInt64(bitPattern: Int64(range.upperBound &- range.lowerBound)) &+ 1
        let draw = span == 0 ? next() : next() % span
        return range.lowerBound &+ Int(bitPattern: UInt(draw))
    }

    public mutating func pick<T>(_ items: [T]) -> T { items[int(in: 0...(items.count - 1))] }

    public mutating func chance(_ percent: Int) -> Bool { int(in: 0...99) < percent }
}
