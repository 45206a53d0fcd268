import Foundation
import IO
import Tensor

/// The built-in demo dataset: procedurally generated scenes — a textured background class with
/// one to three textured shapes (discs, rectangles, triangles) of other classes. Sample `i` of a
/// split is a pure function of (seed, split, i), so every process generates the same data.
public struct DemoScenes: SampleSource {
    public enum Split: UInt64, Sendable {
        case train = 1, validation = 2

        /// `train` or `val`, as the command-line tools name the splits.
        public init?(commandLineName: String) {
            switch commandLineName {
            case "train": self = .train
            case "val": self = .validation
            default: return nil
            }
        }
    }

    /// The demo's classes, in class-id order.
    public static let classNames = ["sky", "grass", "water", "sand", "brick wall", "snow"]

    public let count: Int
    public let size: Int
    public let seed: UInt64
    public let split: Split
    public var classNames: [String] { Self.classNames }

    /// `count` scenes of `size` × `size` pixels.
    public init(split: Split, count: Int, size: Int = 80, seed: UInt64 = 0) {
        precondition(count > 0 && size >= 16, "demo scenes: count \(count), size \(size)")
        (self.split, self.count, self.size, self.seed) = (split, count, size, seed)
    }

    public func location(of index: Int) -> String { "demo scene \(index) (\(split))" }

    /// The scene as a PNG with its labels.
    public func sample(at index: Int) throws -> SegmentationSample {
        let scene = render(index)
        return SegmentationSample(name: "demo-\(split)-\(index).png", imageBytes: try PNG.encode(scene.image), labels: scene.labels)
    }

    /// Renders scene `index` without encoding it.
    public func render(_ index: Int) -> DecodedSample {
        var random = RandomGenerator(seed: sampleSeed(seed, split.rawValue, UInt64(index)))
        let n = size
        var labels = Raster<UInt16>(width: n, height: n, channels: 1, filledWith: UInt16(random.below(Self.classNames.count)))
        let shapes = 1 + random.below(3)
        for _ in 0..<shapes {
            var label = UInt16(random.below(Self.classNames.count))
            if label == labels.samples[0] { label = (label + 1) % UInt16(Self.classNames.count) }
            let (cx, cy) = (Float(random.below(n)), Float(random.below(n)))
            let radius = Float(n) * (0.15 + 0.2 * random.nextUniform())
            let kind = random.below(3)
            for y in 0..<n {
                for x in 0..<n {
                    let (dx, dy) = (Float(x) - cx, Float(y) - cy)
                    let inside: Bool
                    switch kind {
                    case 0: inside = dx * dx + dy * dy <= radius * radius
                    case 1: inside = abs(dx) <= radius && abs(dy) <= radius * 0.7
                    default: inside = dy <= radius * 0.8 && dy >= -radius && abs(dx) <= (dy + radius) * 0.6
                    }
                    if inside { labels[y, x, 0] = label }
                }
            }
        }
        var image = Raster<UInt8>(width: n, height: n, channels: 3)
        let phase = random.nextUniform() * 6
        for y in 0..<n {
            for x in 0..<n {
                let colour = Self.texture(Int(labels[y, x, 0]), x: x, y: y, phase: phase, noise: random.nextUniform())
                for c in 0..<3 { image[y, x, c] = UInt8(clamping: Int(colour[c])) }
            }
        }
        return DecodedSample(name: "demo-\(split)-\(index).png", image: image, labels: labels)
    }

    /// RGB of class `label` at (x, y): a base colour with a class-specific pattern and noise.
    static func texture(_ label: Int, x: Int, y: Int, phase: Float, noise: Float) -> [Float] {
        let (fx, fy) = (Float(x), Float(y))
        let grain = (noise - 0.5) * 30
        switch label {
        case 0: return [120 + fy * 0.5 + grain, 170 + fy * 0.4 + grain, 235 + grain]                   // sky: smooth gradient
        case 1: let s: Float = sinf(fx * 1.3 + phase) * 25; return [50 + s + grain, 150 + s + grain, 40 + grain]  // grass: stripes
        case 2:                                                                                        // water: waves
            let bend: Float = sinf(fx * 0.2) * 2
            let s: Float = sinf(fy * 0.6 + phase + bend) * 30
            return [20 + grain, 60 + s + grain, 150 + s + grain]
        case 3: return [210 + grain * 1.5, 185 + grain * 1.5, 120 + grain * 1.5]                          // sand: grain
        case 4: let mortar = (y % 8 == 0) || ((x + (y / 8 % 2) * 6) % 12 == 0)                          // brick: grid
            return mortar ? [200 + grain, 200 + grain, 190 + grain] : [160 + grain, 60 + grain, 40 + grain]
        default: return [240 + grain * 0.5, 242 + grain * 0.5, 250 + grain * 0.5]                        // snow
        }
    }
}

extension RandomGenerator {
    /// A uniform integer in 0..<bound.
    mutating func below(_ bound: Int) -> Int { Int(next() % UInt64(bound)) }
}

/// A seed that is a pure function of its keys (SplitMix64 finaliser over each key in turn), so
/// per-sample randomness does not depend on the order in which samples are produced.
public func sampleSeed(_ keys: UInt64...) -> UInt64 {
    var state: UInt64 = 0x9E37_79B9_7F4A_7C15
    for key in keys {
        state = (state ^ key) &+ 0x9E37_79B9_7F4A_7C15
        state = (state ^ (state >> 30)) &* 0xBF58_476D_1CE4_E5B9
        state = (state ^ (state >> 27)) &* 0x94D0_49BB_1331_11EB
        state ^= state >> 31
    }
    return state
}
