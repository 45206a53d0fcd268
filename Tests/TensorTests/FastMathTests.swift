import Foundation
import Testing
import Tensor

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
