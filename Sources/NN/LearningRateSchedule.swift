import Foundation

/// Learning rate as a function of the iteration (detectron2 semantics), optionally with a linear
/// warm-up from `warmupFactor` · base over `warmupIterations`.
public struct LearningRateSchedule: Sendable, Equatable {
    public enum Shape: Sendable, Equatable {
        /// base · ½ (1 + cos(π · it / maxIterations)).
        case cosine
        /// base · (1 − it / maxIterations)^power.
        case poly(power: Double)
        /// base.
        case constant
    }

    public var base: Double
    public var maxIterations: Int
    public var shape: Shape
    public var warmupIterations: Int
    public var warmupFactor: Double

    public init(base: Double, maxIterations: Int, shape: Shape = .cosine, warmupIterations: Int = 0, warmupFactor: Double = 0.001) {
        self.base = base
        self.maxIterations = maxIterations
        self.shape = shape
        self.warmupIterations = warmupIterations
        self.warmupFactor = warmupFactor
    }

    /// The learning rate for iteration `iteration` (0-based).
    public func learningRate(at iteration: Int) -> Double {
        let progress = min(Double(iteration) / Double(max(maxIterations, 1)), 1)
        var rate: Double
        switch shape {
        case .cosine: rate = base * 0.5 * (1 + cos(Double.pi * progress))
        case .poly(let power): rate = base * pow(1 - progress, power)
        case .constant: rate = base
        }
        if iteration < warmupIterations {
            let alpha = Double(iteration) / Double(warmupIterations)
            rate *= warmupFactor * (1 - alpha) + alpha
        }
        return rate
    }
}
