import Foundation
import Testing
@testable import Tensor

// The AVX-512 kernels (CAVX512Kernels) against the portable ones and references; the direct
// convolution's are in LayerGradientTests.

/// The bulk loops of GELU and QuickGELU, portable and (where the CPU has it) AVX-512, against
/// libm in Double: values, derivatives (the chain rule of a unit gradient), and the chain rule
/// into a new buffer and in place.
@Suite struct ActivationKernelTests {
    static let kernels = [SIMDKernel.portable] + (SIMDKernel.avx512IsAvailable ? [.avx512] : [])

    @Test(arguments: kernels)
    func geluMatchesLibm(kernel: SIMDKernel) {
        check(GELUFunction(kernel: kernel), "GELU \(kernel)") { x in
            let cdf = 0.5 * (1 + Foundation.erf(x / 2.0.squareRoot()))
            return (x * cdf, cdf + x * Foundation.exp(-0.5 * x * x) / (2 * Double.pi).squareRoot())
        }
    }

    @Test(arguments: kernels)
    func quickGeluMatchesLibm(kernel: SIMDKernel) {
        check(QuickGELUFunction(kernel: kernel), "QuickGELU \(kernel)") { x in
            let s = 1 / (1 + Foundation.exp(-1.702 * x))
            return (x * s, s + 1.702 * x * s * (1 - s))
        }
    }

    /// Errors are measured relative to max(1, |x|) (the functions grow like x); 4e-7 is twice the
    /// worst seen for either kernel (1.8e-7 for values, 2.7e-7 for derivatives).
    private func check<F: ElementwiseFunction>(_ f: F, _ name: String, exact: (Double) -> (value: Double, derivative: Double)) {
        // A dense grid over [-12, 12], the saturated tails and signed zeros; a count that is not a
        // multiple of 16, so the masked tail runs.
        let xs = (0...200_000).map { Float($0) / 200_000 * 24 - 12 } + [-100, -90, -40, 40, 90, 100, 0, -0, 1e-30, -1e-30]
        let n = xs.count
        // The derivative is the chain rule of a unit gradient.
        let ones = [Float](repeating: 1, count: n)
        var values = [Float](repeating: .nan, count: n), derivatives = values
        xs.withUnsafeBufferPointer { x in
            values.withUnsafeMutableBufferPointer { f.apply(x.baseAddress!, $0.baseAddress!, count: n) }
            ones.withUnsafeBufferPointer { g in
                derivatives.withUnsafeMutableBufferPointer {
                    f.chainRule(x: x.baseAddress!, y: x.baseAddress!, gradient: g.baseAddress!, into: $0.baseAddress!, count: n)
                }
            }
        }
        var worstValue = 0.0, worstDerivative = 0.0
        for (i, x) in xs.enumerated() {
            let reference = exact(Double(x)), scale = max(1, abs(Double(x)))
            worstValue = max(worstValue, abs(Double(values[i]) - reference.value) / scale)
            worstDerivative = max(worstDerivative, abs(Double(derivatives[i]) - reference.derivative) / scale)
        }
        #expect(worstValue <= 4e-7, "\(name): value error \(worstValue)")
        #expect(worstDerivative <= 4e-7, "\(name): derivative error \(worstDerivative)")
        var generator = RandomGenerator(seed: 7)
        let gradient = Tensor.normal([n], using: &generator).scalars
        var product = [Float](repeating: .nan, count: n), inPlace = gradient
        xs.withUnsafeBufferPointer { x in
            gradient.withUnsafeBufferPointer { g in
                product.withUnsafeMutableBufferPointer {
                    f.chainRule(x: x.baseAddress!, y: x.baseAddress!, gradient: g.baseAddress!, into: $0.baseAddress!, count: n)
                }
            }
            inPlace.withUnsafeMutableBufferPointer {
                f.chainRule(x: x.baseAddress!, y: x.baseAddress!, gradient: $0.baseAddress!, into: $0.baseAddress!, count: n)
            }
        }
        #expect(product == zip(gradient, derivatives).map { $0 * $1 }, "\(name): chain rule")
        #expect(inPlace == product, "\(name): chain rule in place")
    }
}

/// The attention's row softmax, AVX-512 against portable, with and without a Swin-style mask.
@Suite struct SoftmaxKernelTests {
    @Test(.enabled(if: SIMDKernel.avx512IsAvailable, "needs a CPU with AVX-512F"),
          arguments: [1, 7, 16, 33, 144])
    func avx512SoftmaxMatchesPortable(columns: Int) {
        let rows = 5
        var generator = RandomGenerator(seed: UInt64(columns))
        let logits = (Tensor.normal([rows, columns], using: &generator) * 10).scalars
        // −100 across regions as in the shifted windows' mask, 0 elsewhere.
        let mask = Tensor.uniform([rows, columns], low: 0, high: 1, using: &generator).scalars.map { $0 < 0.3 ? Float(-100) : 0 }
        for masked in [false, true] {
            func run(_ kernel: SIMDKernel) -> [Float] {
                var values = logits
                values.withUnsafeMutableBufferPointer { x in
                    mask.withUnsafeBufferPointer { m in
                        Kernels.softmaxRows(x.baseAddress!, rows: rows, columns: columns, mask: masked ? m.baseAddress! : nil, kernel: kernel)
                    }
                }
                return values
            }
            let (wide, portable) = (run(.avx512), run(.portable))
            let worst = zip(wide, portable).map { abs($0 - $1) }.max() ?? 0
            #expect(worst <= 1e-6, "columns \(columns), masked \(masked): largest difference \(worst)")
            for row in 0..<rows {
                let total = wide[(row * columns)..<((row + 1) * columns)].reduce(0, +)
                #expect(abs(total - 1) <= 1e-5, "columns \(columns), masked \(masked), row \(row): sums to \(total)")
            }
        }
    }
}
