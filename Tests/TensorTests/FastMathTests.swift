import Foundation
import Testing
@testable import Tensor

@Suite struct FastMathTests {
    /// The approximations against libm (in Double) over their ranges, on a dense grid.
    @Test func approximationsMatchLibm() {
        var worstLog1p = 0.0, worstExp = 0.0, worstErf = 0.0
        for i in 0...100_000 {
            let unit = Float(i) / 100_000                       // [0, 1]
            let exact = Foundation.log1p(Double(unit))
            if exact > 0 { worstLog1p = max(worstLog1p, abs(Double(FastMath.log1pOfUnitInterval(unit)) - exact) / exact) }
            let x = Float(i) / 100_000 * 40 - 20                // [-20, 20]
            worstExp = max(worstExp, abs(Double(FastMath.exp(x)) - Foundation.exp(Double(x))) / Foundation.exp(Double(x)))
            let e = Float(i) / 100_000 * 8 - 4                  // [-4, 4]
            worstErf = max(worstErf, abs(Double(FastMath.erf(e)) - Foundation.erf(Double(e))))
        }
        #expect(FastMath.log1pOfUnitInterval(0) == 0)
        #expect(worstLog1p <= 3e-7, "log1p: relative error \(worstLog1p)")
        #expect(worstExp <= 3e-7, "exp: relative error \(worstExp)")
        #expect(worstErf <= 6e-7, "erf: absolute error \(worstErf)")
    }
}

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
