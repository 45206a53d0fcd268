/// Raw-pointer loops shared by the operations. Every loop is split over ``Parallel`` threads in
/// fixed chunks, and reductions never combine values across chunks whose bounds depend on the
/// thread count, so results do not depend on scheduling.
public enum Kernels {
    /// `z[i] = f(x[i], y[i])` for `count` elements.
    @inlinable @inline(__always)
    public static func zip<F: BinaryElementFunction>(_ x: UnsafePointer<Float>, _ y: UnsafePointer<Float>, _ z: UnsafeMutablePointer<Float>,
                                                     _ count: Int, _ f: F) {
        Parallel.forEach(count) { range in
            for i in range { z[i] = f(x[i], y[i]) }
        }
    }

    /// `x[i] += y[i]`.
    @inlinable
    public static func addInPlace(_ x: UnsafeMutablePointer<Float>, _ y: UnsafePointer<Float>, _ count: Int) {
        Parallel.forEach(count) { range in
            for i in range { x[i] += y[i] }
        }
    }

    /// The largest of `count` (≥ 1) floats, in eight SIMD lanes (a scalar max reduction does not vectorise).
    @inlinable
    public static func maximum(_ x: UnsafePointer<Float>, _ count: Int) -> Float {
        var result = -Float.infinity
        var i = 0
        if count >= 8 {
            var lanes = UnsafeRawPointer(x).loadUnaligned(as: SIMD8<Float>.self)
            i = 8
            while i + 8 <= count {
                // A compare-and-blend (one `vmaxps`-like step); `pointwiseMax` compiles to a per-lane loop.
                let next = UnsafeRawPointer(x + i).loadUnaligned(as: SIMD8<Float>.self)
                lanes.replace(with: next, where: next .> lanes)
                i += 8
            }
            result = lanes.max()
        }
        while i < count {
            result = Swift.max(result, x[i])
            i += 1
        }
        return result
    }

    /// Σ x[i]·y[i] in eight SIMD lanes (fixed order, so deterministic).
    public static func dot(_ x: UnsafePointer<Float>, _ y: UnsafePointer<Float>, _ count: Int) -> Float {
        var lanes = SIMD8<Float>()
        var i = 0
        while i + 8 <= count {
            lanes += UnsafeRawPointer(x + i).loadUnaligned(as: SIMD8<Float>.self) * UnsafeRawPointer(y + i).loadUnaligned(as: SIMD8<Float>.self)
            i += 8
        }
        var total = lanes.sum()
        while i < count {
            total += x[i] * y[i]
            i += 1
        }
        return total
    }

    /// `y[i] = exp(x[i] − max(x))` for `count` (≥ 1) floats, the shared first half of softmax and
    /// log-softmax; returns the maximum and Σ y. `y` may be `x`.
    @inlinable
    public static func shiftedExponentials(_ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>, _ count: Int)
        -> (maximum: Float, total: Float) {
        let maximum = Kernels.maximum(x, count)
        for i in 0..<count { y[i] = FastMath.exp(x[i] - maximum) }
        return (maximum, Kernels.sum(y, count))
    }

    /// The softmax chain rule for one row: `dx = y ⊙ (g − Σ g⊙y)` for probabilities `y` [count]
    /// and upstream gradient `g` [count]. `dx` may be `g`.
    @inlinable
    public static func softmaxGradient(_ y: UnsafePointer<Float>, _ g: UnsafePointer<Float>, _ dx: UnsafeMutablePointer<Float>,
                                       _ count: Int) {
        let dot = Kernels.dot(g, y, count)
        for i in 0..<count { dx[i] = y[i] * (g[i] - dot) }
    }

    /// Sum of `count` floats with 8 interleaved accumulators (vectorisable, fixed order).
    @inlinable
    public static func sum(_ x: UnsafePointer<Float>, _ count: Int) -> Float {
        var lanes = SIMD8<Float>()
        var i = 0
        while i + 8 <= count {
            lanes += UnsafeRawPointer(x + i).loadUnaligned(as: SIMD8<Float>.self)
            i += 8
        }
        var total = lanes.sum()
        while i < count {
            total += x[i]
            i += 1
        }
        return total
    }

    /// `z = f(x, y)` where x and y are read through broadcast `shape`s that produce `outShape`.
    @inlinable @inline(__always)
    public static func broadcastZip<F: BinaryElementFunction>(_ x: UnsafePointer<Float>, _ xShape: [Int], _ y: UnsafePointer<Float>,
                                                              _ yShape: [Int], _ z: UnsafeMutablePointer<Float>, _ outShape: [Int],
                                                              _ f: F) {
        let (dims, strides) = Broadcasting.collapse(
            outShape, [Broadcasting.strides(of: xShape, broadcastTo: outShape),
                       Broadcasting.strides(of: yShape, broadcastTo: outShape)])
        let inner = dims[dims.count - 1]
        let xStep = strides[0][dims.count - 1], yStep = strides[1][dims.count - 1]
        let rows = dims.dropLast().reduce(1, *)
        let outer = Array(dims.dropLast())
        Parallel.forEach(rows, grain: Swift.max(1, 16_384 / Swift.max(inner, 1))) { range in
            for row in range {
                var remainder = row, xOffset = 0, yOffset = 0
                for d in stride(from: outer.count - 1, through: 0, by: -1) {
                    let index = remainder % outer[d]
                    remainder /= outer[d]
                    xOffset += index * strides[0][d]
                    yOffset += index * strides[1][d]
                }
                let xs = x + xOffset, ys = y + yOffset, zs = z + row * inner
                switch (xStep, yStep) {
                case (1, 1): for i in 0..<inner { zs[i] = f(xs[i], ys[i]) }
                case (1, 0): let c = ys[0]; for i in 0..<inner { zs[i] = f(xs[i], c) }
                case (0, 1): let c = xs[0]; for i in 0..<inner { zs[i] = f(c, ys[i]) }
                default: for i in 0..<inner { zs[i] = f(xs[i * xStep], ys[i * yStep]) }
                }
            }
        }
    }

    /// Sums `x` viewed as [outer, n, inner] over the middle axis into `y` [outer, inner].
    ///
    /// With inner > 1, blocks of `16_384 / inner` (≥ 8) consecutive rows are summed in order as
    /// separate tasks and their partial sums then added in block order, so that a reduction over
    /// many rows into few columns (a bias gradient: [tokens, channels] → [channels]) uses every
    /// core. The block size depends on the shape only, so the result does not depend on the
    /// number of threads.
    public static func sumAxis(_ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>, outer: Int, n: Int, inner: Int) {
        if inner == 1 {
            Parallel.forEach(outer, grain: Swift.max(1, 16_384 / Swift.max(n, 1))) { range in
                for o in range { y[o] = sum(x + o * n, n) }
            }
            return
        }
        let blockRows = Swift.max(8, 16_384 / inner)
        guard n > blockRows else {
            sumColumns(x, y, outer: outer, n: n, inner: inner)
            return
        }
        let blocks = (n + blockRows - 1) / blockRows
        let partial = UnsafeMutablePointer<Float>.allocate(capacity: outer * blocks * inner)
        defer { partial.deallocate() }
        Parallel.forEach(outer * blocks, grain: 1) { range in
            for task in range {
                let (o, block) = task.quotientAndRemainder(dividingBy: blocks)
                let first = block * blockRows
                sumColumns(x + (o * n + first) * inner, partial + task * inner, outer: 1, n: Swift.min(blockRows, n - first), inner: inner)
            }
        }
        sumColumns(partial, y, outer: outer, n: blocks, inner: inner)
    }

    /// `y[o, i] = Σ_k x[o, k, i]`, each element summed in order k = 0..<n (inner > 1), in
    /// parallel over the output elements.
    private static func sumColumns(_ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>, outer: Int, n: Int, inner: Int) {
        Parallel.forEach(outer * inner, grain: 4096) { range in
            var index = range.lowerBound
            while index < range.upperBound {
                let o = index / inner, start = index % inner
                let end = Swift.min(inner, start + (range.upperBound - index))
                let out = y + o * inner
                for i in start..<end { out[i] = 0 }
                for k in 0..<n {
                    let row = x + (o * n + k) * inner
                    for i in start..<end { out[i] += row[i] }
                }
                index += end - start
            }
        }
    }
}

/// A function of two floats that ``Kernels/zip(_:_:_:_:_:)`` and ``Kernels/broadcastZip(_:_:_:_:_:_:_:)``
/// apply elementwise. A type of its own rather than a closure: the kernels are specialised for
/// each conforming type, so the loop that every worker thread runs inlines the function and
/// vectorises. (A closure would reach the worker threads as a captured value and be called once
/// per element: on two threads such a loop ran 2–4× slower than on one.)
public protocol BinaryElementFunction {
    func callAsFunction(_ x: Float, _ y: Float) -> Float
}
