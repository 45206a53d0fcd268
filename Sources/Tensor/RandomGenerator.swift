import Foundation

/// A seeded, deterministic generator (xoshiro256**, seeded through SplitMix64). The same seed
/// gives the same stream on every machine and run.
public struct RandomGenerator: RandomNumberGenerator, Sendable {
    private var state: (UInt64, UInt64, UInt64, UInt64)

    public init(seed: UInt64) {
        var x = seed
        func splitMix() -> UInt64 {
            x &+= 0x9E37_79B9_7F4A_7C15
            var z = x
            z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
            z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
            return z ^ (z >> 31)
        }
        state = (splitMix(), splitMix(), splitMix(), splitMix())
    }

    public mutating func next() -> UInt64 {
        let result = ((state.1 &* 5) << 7 | (state.1 &* 5) >> 57) &* 9
        let t = state.1 << 17
        state.2 ^= state.0
        state.3 ^= state.1
        state.1 ^= state.2
        state.0 ^= state.3
        state.2 ^= t
        state.3 = state.3 << 45 | state.3 >> 19
        return result
    }

    /// Uniform in [0, 1) with 24 random bits.
    public mutating func nextUniform() -> Float { Float(next() >> 40) * 0x1p-24 }

    /// Standard normal (Box–Muller, one value per call).
    public mutating func nextNormal() -> Float {
        let u1 = Double(next() >> 11) * 0x1p-53 + 0x1p-54
        let u2 = Double(next() >> 11) * 0x1p-53
        return Float((-2 * Foundation.log(u1)).squareRoot() * cos(2 * Double.pi * u2))
    }
}

extension Tensor {
    /// Uniform values in [low, high).
    public static func uniform(_ shape: [Int], low: Float = 0, high: Float = 1, using generator: inout RandomGenerator) -> Tensor {
        let out = Tensor(uninitializedShape: shape)
        for i in 0..<out.count { out.pointer[i] = low + (high - low) * generator.nextUniform() }
        return out
    }

    /// Normal values with `mean` and `std`.
    public static func normal(_ shape: [Int], mean: Float = 0, std: Float = 1, using generator: inout RandomGenerator) -> Tensor {
        let out = Tensor(uninitializedShape: shape)
        for i in 0..<out.count { out.pointer[i] = mean + std * generator.nextNormal() }
        return out
    }

    /// 1 with probability `p`, else 0.
    public static func bernoulli(_ shape: [Int], p: Float, using generator: inout RandomGenerator) -> Tensor {
        let out = Tensor(uninitializedShape: shape)
        for i in 0..<out.count { out.pointer[i] = generator.nextUniform() < p ? 1 : 0 }
        return out
    }
}
