import CAVX512Kernels
import Foundation

// Elementwise arithmetic with broadcasting, and unary functions, each with its gradient.

extension Tensor {
    /// `f(a, b)` elementwise over the broadcast shape of `a` and `b`, in a loop specialised for `F`.
    static func broadcastBinary<F: BinaryElementFunction>(_ a: Tensor, _ b: Tensor, op: String, _ f: F) -> Tensor {
        if a.shape == b.shape {
            let out = Tensor(uninitializedShape: a.shape)
            Kernels.zip(a.pointer, b.pointer, out.pointer, a.count, f)
            return out
        }
        let shape = Broadcasting.shape(a.shape, b.shape, op: op)
        let out = Tensor(uninitializedShape: shape)
        Kernels.broadcastZip(a.pointer, a.shape, b.pointer, b.shape, out.pointer, shape, f)
        return out
    }

    public static func + (a: Tensor, b: Tensor) -> Tensor {
        let out = broadcastBinary(a, b, op: "add", Sum())
        // Only the shapes are captured: the operands themselves are not needed in backward, and
        // capturing them would keep both alive until then (a residual sum's branch and trunk).
        let (aShape, bShape) = (a.requiresGrad ? a.shape : nil, b.requiresGrad ? b.shape : nil)
        return record("add", inputs: [a, b], output: out) { g in
            [aShape.map { g.sum(toShape: $0) }, bShape.map { g.sum(toShape: $0) }]
        }
    }

    public static func - (a: Tensor, b: Tensor) -> Tensor {
        let out = broadcastBinary(a, b, op: "subtract", Difference())
        let (aShape, bShape) = (a.requiresGrad ? a.shape : nil, b.requiresGrad ? b.shape : nil)
        return record("subtract", inputs: [a, b], output: out) { g in
            [aShape.map { g.sum(toShape: $0) }, bShape.map { (-g).sum(toShape: $0) }]
        }
    }

    public static func * (a: Tensor, b: Tensor) -> Tensor {
        let out = broadcastBinary(a, b, op: "multiply", Product())
        // Each operand is kept only for the other one's gradient.
        let (aShape, bShape) = (a.shape, b.shape)
        let bForGradA = a.requiresGrad ? b.detached() : nil, aForGradB = b.requiresGrad ? a.detached() : nil
        return record("multiply", inputs: [a, b], output: out) { g in
            [bForGradA.map { (g * $0).sum(toShape: aShape) }, aForGradB.map { (g * $0).sum(toShape: bShape) }]
        }
    }

    public static func / (a: Tensor, b: Tensor) -> Tensor {
        let out = broadcastBinary(a, b, op: "divide", Quotient())
        // Backward reads the denominator, and the quotient for the denominator's gradient only.
        let (aShape, bShape) = (a.requiresGrad ? a.shape : nil, b.requiresGrad ? b.shape : nil)
        let denominator = b.detached(), quotient = b.requiresGrad ? out.detached() : nil
        return record("divide", inputs: [a, b], output: out) { g in
            let ga = aShape.map { (g / denominator).sum(toShape: $0) }
            let gb = bShape.flatMap { shape in quotient.map { (-(g * $0) / denominator).sum(toShape: shape) } }
            return [ga, gb]
        }
    }

    public static prefix func - (a: Tensor) -> Tensor { a * -1 }

    public static func + (a: Tensor, s: Float) -> Tensor { a.map("add scalar", ShiftFunction(shift: s)) }
    public static func - (a: Tensor, s: Float) -> Tensor { a + (-s) }
    public static func * (a: Tensor, s: Float) -> Tensor { a.map("scale", ScaleFunction(scale: s)) }
    public static func / (a: Tensor, s: Float) -> Tensor { a * (1 / s) }
    public static func + (s: Float, a: Tensor) -> Tensor { a + s }
    public static func * (s: Float, a: Tensor) -> Tensor { a * s }
    public static func - (s: Float, a: Tensor) -> Tensor { (-a) + s }

    /// `y = f(x)` elementwise with `dy/dx = f.derivative(x, y)`. Generic over the function type
    /// so that each activation gets its own specialised, vectorisable loop.
    func map<F: ElementwiseFunction>(_ op: String, _ f: F) -> Tensor {
        let out = Tensor(uninitializedShape: shape)
        let x = pointer, y = out.pointer
        Parallel.forEach(count) { range in
            f.apply(x + range.lowerBound, y + range.lowerBound, count: range.count)
        }
        // Only the values the derivative reads are kept, detached so that no closure refers back to
        // the tensor that owns them; an unread side gets the other's (or the gradient's) pointer.
        let reads = F.derivativeReads
        let input = reads.input ? detached() : nil, output = reads.output ? out.detached() : nil
        return Tensor.record(op, inputs: [self], output: out) { g in
            let dx = Tensor(uninitializedShape: g.shape)
            let gs = g.pointer
            f.parallelChainRule(x: UnsafePointer(input?.pointer ?? output?.pointer ?? gs), y: UnsafePointer(output?.pointer ?? input?.pointer ?? gs),
                                gradient: gs, into: dx.pointer, count: g.count)
            return [dx]
        }
    }

    public func exp() -> Tensor { map("exp", ExpFunction()) }
    public func log() -> Tensor { map("log", LogFunction()) }
    public func sqrt() -> Tensor { map("sqrt", SquareRootFunction()) }
    public func rsqrt() -> Tensor { map("rsqrt", ReciprocalSquareRootFunction()) }
    public func pow(_ p: Float) -> Tensor { map("pow", PowerFunction(exponent: p)) }
    public func square() -> Tensor { map("square", SquareFunction()) }
    /// Clamps to `[low, high]`; the gradient is 1 strictly inside and 0 at or beyond the bounds' outside.
    public func clamp(min low: Float = -.infinity, max high: Float = .infinity) -> Tensor {
        map("clamp", ClampFunction(low: low, high: high))
    }
    public func sigmoid() -> Tensor { map("sigmoid", SigmoidFunction()) }
    public func relu() -> Tensor { map("relu", ReLUFunction()) }
    /// GELU with the exact erf: x · Φ(x), by `kernel` (``SIMDKernel``; the two differ by a few ulps).
    public func gelu(kernel: SIMDKernel = .fastest) -> Tensor {
        kernel.requireSupported(by: "gelu")
        return map("gelu", GELUFunction(kernel: kernel))
    }
    /// CLIP's QuickGELU: x · σ(1.702 x), by `kernel` (as for ``gelu(kernel:)``).
    public func quickGelu(kernel: SIMDKernel = .fastest) -> Tensor {
        kernel.requireSupported(by: "quickGelu")
        return map("quick_gelu", QuickGELUFunction(kernel: kernel))
    }
    /// elu(x) + 1: the positive feature map of linear attention.
    public func eluPlusOne() -> Tensor { map("elu_plus_one", ELUPlusOneFunction()) }
}

struct Sum: BinaryElementFunction { func callAsFunction(_ x: Float, _ y: Float) -> Float { x + y } }
struct Difference: BinaryElementFunction { func callAsFunction(_ x: Float, _ y: Float) -> Float { x - y } }
struct Product: BinaryElementFunction { func callAsFunction(_ x: Float, _ y: Float) -> Float { x * y } }
struct Quotient: BinaryElementFunction { func callAsFunction(_ x: Float, _ y: Float) -> Float { x / y } }

/// Which of a function's input x and output y its derivative reads.
struct DerivativeOperands {
    var input: Bool, output: Bool
    static let input = DerivativeOperands(input: true, output: false)
    static let output = DerivativeOperands(input: false, output: true)
    static let both = DerivativeOperands(input: true, output: true)
    static let neither = DerivativeOperands(input: false, output: false)
}

/// A scalar function and its derivative, applied elementwise by `Tensor.map`.
protocol ElementwiseFunction {
    func callAsFunction(_ x: Float) -> Float
    /// dy/dx at input `x` with output `y`; reads only the operands ``derivativeReads`` names.
    func derivative(_ x: Float, _ y: Float) -> Float
    /// What `derivative` reads, so that `map` keeps only that from forward to backward.
    static var derivativeReads: DerivativeOperands { get }
    /// `dx[i] = gradient[i] · derivative(x[i], y[i])` for `count` elements.
    func chainRule(x: UnsafePointer<Float>, y: UnsafePointer<Float>, gradient: UnsafePointer<Float>,
                   into dx: UnsafeMutablePointer<Float>, count: Int)
    /// C loops on 16 lanes (CAVX512Kernels) that the bulk functions below run instead of their
    /// scalar loops, or nil.
    var wideLoops: WideElementwiseLoops? { get }
    /// `y[i] = f(x[i])` for `count` elements on this thread (`y` may be `x`).
    func apply(_ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>, count: Int)
}

extension ElementwiseFunction {
    static var derivativeReads: DerivativeOperands { .both }

    // `chainRule` and `apply` are protocol requirements although no type overrides them: so each
    // conforming type gets its own specialised, vectorised loop through its witness table (the
    // closures of the generic `map` would otherwise call `derivative` or `self` per element).
    func chainRule(x: UnsafePointer<Float>, y: UnsafePointer<Float>, gradient: UnsafePointer<Float>,
                   into dx: UnsafeMutablePointer<Float>, count: Int) {
        if let wide = wideLoops { return wide.chainRule(x, gradient, dx, count) }
        // In place, the loop must say so: with two pointers the vectoriser's overlap check sees
        // `dx` = `gradient` and takes its scalar fallback (GELU's chain rule ran 4 lanes → 1).
        if UnsafePointer(dx) == gradient {
            for i in 0..<count { dx[i] *= derivative(x[i], y[i]) }
        } else {
            for i in 0..<count { dx[i] = gradient[i] * derivative(x[i], y[i]) }
        }
    }

    var wideLoops: WideElementwiseLoops? { nil }

    func apply(_ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>, count: Int) {
        if let wide = wideLoops { return wide.apply(x, y, count) }
        for i in 0..<count { y[i] = self(x[i]) }
    }

    /// ``chainRule(x:y:gradient:into:count:)`` over all cores; `dx` may be `gradient`.
    func parallelChainRule(x: UnsafePointer<Float>, y: UnsafePointer<Float>, gradient: UnsafePointer<Float>,
                           into dx: UnsafeMutablePointer<Float>, count: Int) {
        Parallel.forEach(count) { range in
            chainRule(x: x + range.lowerBound, y: y + range.lowerBound, gradient: gradient + range.lowerBound,
                      into: dx + range.lowerBound, count: range.count)
        }
    }
}

/// The AVX-512 loops of an elementwise function (CAVX512Kernels): the function, and the chain
/// rule `dx = gradient · f′(x)` (in place allowed).
struct WideElementwiseLoops {
    let apply: @convention(c) (UnsafePointer<Float>?, UnsafeMutablePointer<Float>?, Int) -> Void
    let chainRule: @convention(c) (UnsafePointer<Float>?, UnsafePointer<Float>?, UnsafeMutablePointer<Float>?, Int) -> Void

    static let gelu = WideElementwiseLoops(apply: fgaseg_gelu_avx512, chainRule: fgaseg_gelu_chain_rule_avx512)
    static let quickGelu = WideElementwiseLoops(apply: fgaseg_quick_gelu_avx512, chainRule: fgaseg_quick_gelu_chain_rule_avx512)
}

// Every function is a type of its own rather than a closure: the generic `map` is specialised
// for each, so its loops vectorise. (A closure reaches the worker threads of a parallel loop as
// a captured value and is called once per element: on two threads such a pass ran slower than on one.)

struct LogFunction: ElementwiseFunction {
    static let derivativeReads = DerivativeOperands.input
    func callAsFunction(_ x: Float) -> Float { Foundation.log(x) }
    func derivative(_ x: Float, _ y: Float) -> Float { 1 / x }
}

struct SquareRootFunction: ElementwiseFunction {
    static let derivativeReads = DerivativeOperands.output
    func callAsFunction(_ x: Float) -> Float { x.squareRoot() }
    func derivative(_ x: Float, _ y: Float) -> Float { 0.5 / y }
}

struct ReciprocalSquareRootFunction: ElementwiseFunction {
    func callAsFunction(_ x: Float) -> Float { 1 / x.squareRoot() }
    func derivative(_ x: Float, _ y: Float) -> Float { -0.5 * y / x }
}

struct PowerFunction: ElementwiseFunction {
    static let derivativeReads = DerivativeOperands.input
    let exponent: Float
    func callAsFunction(_ x: Float) -> Float { Foundation.pow(x, exponent) }
    func derivative(_ x: Float, _ y: Float) -> Float { exponent * Foundation.pow(x, exponent - 1) }
}

struct SquareFunction: ElementwiseFunction {
    static let derivativeReads = DerivativeOperands.input
    func callAsFunction(_ x: Float) -> Float { x * x }
    func derivative(_ x: Float, _ y: Float) -> Float { 2 * x }
}

struct ClampFunction: ElementwiseFunction {
    static let derivativeReads = DerivativeOperands.input
    let low: Float, high: Float
    func callAsFunction(_ x: Float) -> Float { Swift.min(Swift.max(x, low), high) }
    func derivative(_ x: Float, _ y: Float) -> Float { x >= low && x <= high ? 1 : 0 }
}

struct ShiftFunction: ElementwiseFunction {
    static let derivativeReads = DerivativeOperands.neither
    let shift: Float
    func callAsFunction(_ x: Float) -> Float { x + shift }
    func derivative(_ x: Float, _ y: Float) -> Float { 1 }
}

struct ScaleFunction: ElementwiseFunction {
    static let derivativeReads = DerivativeOperands.neither
    let scale: Float
    func callAsFunction(_ x: Float) -> Float { x * scale }
    func derivative(_ x: Float, _ y: Float) -> Float { scale }
}

struct ReLUFunction: ElementwiseFunction {
    static let derivativeReads = DerivativeOperands.output
    func callAsFunction(_ x: Float) -> Float { Swift.max(x, 0) }
    func derivative(_ x: Float, _ y: Float) -> Float { y > 0 ? 1 : 0 }
}

struct ELUPlusOneFunction: ElementwiseFunction {
    func callAsFunction(_ x: Float) -> Float { x > 0 ? x + 1 : FastMath.exp(x) }
    func derivative(_ x: Float, _ y: Float) -> Float { x > 0 ? 1 : y }
}

struct ExpFunction: ElementwiseFunction {
    static let derivativeReads = DerivativeOperands.output
    func callAsFunction(_ x: Float) -> Float { FastMath.exp(x) }
    func derivative(_ x: Float, _ y: Float) -> Float { y }
}

struct SigmoidFunction: ElementwiseFunction {
    static let derivativeReads = DerivativeOperands.output
    func callAsFunction(_ x: Float) -> Float { FastMath.sigmoid(x) }
    func derivative(_ x: Float, _ y: Float) -> Float { y * (1 - y) }
}

/// GELU with the exact erf. With `kernel` `.avx512` its bulk loops run in C on 16 lanes (the
/// same formulas with fused multiply-adds, so values differ from the scalar functions here by a
/// few ulps).
struct GELUFunction: ElementwiseFunction {
    static let derivativeReads = DerivativeOperands.input
    var kernel = SIMDKernel.fastest
    var wideLoops: WideElementwiseLoops? { kernel == .avx512 ? .gelu : nil }
    func callAsFunction(_ x: Float) -> Float { 0.5 * x * (1 + FastMath.erf(x * 0.707_106_77)) }
    func derivative(_ x: Float, _ y: Float) -> Float { FastMath.geluDerivative(x) }
}

/// CLIP's QuickGELU; `kernel` as for ``GELUFunction``.
struct QuickGELUFunction: ElementwiseFunction {
    static let derivativeReads = DerivativeOperands.input
    var kernel = SIMDKernel.fastest
    var wideLoops: WideElementwiseLoops? { kernel == .avx512 ? .quickGelu : nil }
    func callAsFunction(_ x: Float) -> Float { x * FastMath.sigmoid(1.702 * x) }
    func derivative(_ x: Float, _ y: Float) -> Float {
        let s = FastMath.sigmoid(1.702 * x)
        return s + 1.702 * x * s * (1 - s)
    }
}
