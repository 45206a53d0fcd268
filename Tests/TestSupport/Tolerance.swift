import Tensor

/// How far a result may be from its reference: |actual − expected| ≤ absolute + relative·s, where
/// s is |expected| element by element, or the tensor's largest |expected| (for gradients that sum
/// over thousands of terms and carry rounding noise near their small elements).
public struct Tolerance: Sendable {
    public var absolute: Float
    public var relative: Float
    public var relativeToLargest: Bool

    public init(absolute: Float, relative: Float, relativeToLargest: Bool = false) {
        (self.absolute, self.relative, self.relativeToLargest) = (absolute, relative, relativeToLargest)
    }

    /// The largest violation (≤ 0 when `actual` is within tolerance) and the element where it occurs.
    public func worstExcess(_ actual: Tensor, _ expected: Tensor) -> (excess: Float, index: Int) {
        precondition(actual.count == expected.count, "comparing \(actual.shape) with \(expected.shape)")
        let largest = relativeToLargest ? (0..<expected.count).map { abs(expected.pointer[$0]) }.max() ?? 0 : 0
        var worst: (Float, Int) = (-.infinity, -1)
        for i in 0..<expected.count {
            let scale = relativeToLargest ? largest : abs(expected.pointer[i])
            let excess = abs(actual.pointer[i] - expected.pointer[i]) - (absolute + relative * scale)
            if excess > worst.0 { worst = (excess, i) }
        }
        return expected.count == 0 ? (0, -1) : worst
    }

    /// True when every element of `actual` is within tolerance of `expected` (same element count).
    public func accepts(_ actual: Tensor, _ expected: Tensor) -> Bool {
        actual.count == expected.count && worstExcess(actual, expected).excess <= 0
    }
}
