/// Seeded, deterministic mutations of a valid file: the same seed and input give the same bytes
/// on every machine (SplitMix64, no system randomness).
struct Mutator {
    private var state: UInt64

    init(seed: UInt64) { state = seed }

    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    /// Uniform in `0..<bound` (bound > 0).
    mutating func below(_ bound: Int) -> Int { Int(next() % UInt64(bound)) }

    /// Values that tend to break size and offset arithmetic, as 1-, 2-, 4- and 8-byte patterns.
    static let interestingWords: [UInt64] = [
        0, 1, 0x7F, 0x80, 0xFF, 0x100, 0x7FFF, 0x8000, 0xFFFF, 0x1_0000, 0x7FFF_FFFF, 0x8000_0000, 0xFFFF_FFFF,
        0x1_0000_0000, 0x7FFF_FFFF_FFFF_FFFF, 0x8000_0000_0000_0000, 0xFFFF_FFFF_FFFF_FFFF,
    ]

    /// `input` with 1–4 mutations: bit flips, interesting integers (either byte order) written over
    /// it, bytes deleted, duplicated, inserted or the tail cut off; `tokens` (text formats) are
    /// spliced in whole as well.
    mutating func mutate(_ input: [UInt8], tokens: [[UInt8]] = []) -> [UInt8] {
        var bytes = input
        for _ in 0...below(4) {
            if bytes.isEmpty { bytes = [UInt8(truncatingIfNeeded: next())]; continue }
            let at = below(bytes.count)
            switch below(tokens.isEmpty ? 7 : 9) {
            case 0, 1:
                bytes[at] ^= 1 << UInt8(below(8))
            case 2:
                bytes[at] = UInt8(truncatingIfNeeded: Mutator.interestingWords[below(Mutator.interestingWords.count)])
            case 3:
                let width = [2, 4, 8][below(3)]
                let value = Mutator.interestingWords[below(Mutator.interestingWords.count)]
                let bigEndian = below(2) == 0
                for k in 0..<width where at + k < bytes.count {
                    let shift = UInt64(bigEndian ? width - 1 - k : k) * 8
                    bytes[at + k] = UInt8(truncatingIfNeeded: value >> shift)
                }
            case 4:
                bytes.removeSubrange(at..<min(bytes.count, at + 1 + below(16)))
            case 5:
                let range = at..<min(bytes.count, at + 1 + below(64))
                bytes.insert(contentsOf: bytes[range], at: below(bytes.count + 1))
            case 6:
                if below(3) == 0 { bytes.removeSubrange(at...) } else {
                    bytes.insert(contentsOf: (0..<(1 + below(8))).map { _ in UInt8(truncatingIfNeeded: next()) }, at: at)
                }
            default:
                bytes.insert(contentsOf: tokens[below(tokens.count)], at: at)
            }
        }
        return bytes
    }
}
