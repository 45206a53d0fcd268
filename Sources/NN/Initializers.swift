import Foundation
import Tensor

/// PyTorch's default initialisers.
public enum Initializer {
    /// `kaiming_uniform_(a=√5)` as nn.Linear/nn.Conv2d use it: U(−b, b), b = 1/√fan_in.
    public static func kaimingUniform(_ shape: [Int], fanIn: Int, using generator: inout RandomGenerator) -> Tensor {
        let bound = Float(1 / Double(fanIn).squareRoot())
        return Tensor.uniform(shape, low: -bound, high: bound, using: &generator)
    }

    /// The default bias of nn.Linear/nn.Conv2d: U(−1/√fan_in, 1/√fan_in).
    public static func bias(_ count: Int, fanIn: Int, using generator: inout RandomGenerator) -> Tensor {
        kaimingUniform([count], fanIn: fanIn, using: &generator)
    }

    /// `xavier_uniform_`: U(−b, b), b = √(6 / (fan_in + fan_out)).
    public static func xavierUniform(_ shape: [Int], fanIn: Int, fanOut: Int, using generator: inout RandomGenerator) -> Tensor {
        let bound = Float((6 / Double(fanIn + fanOut)).squareRoot())
        return Tensor.uniform(shape, low: -bound, high: bound, using: &generator)
    }
}
