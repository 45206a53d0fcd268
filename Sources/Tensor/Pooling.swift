// Average pooling and resampling (bilinear, nearest, bicubic) of [N, C, H, W] maps.

extension Tensor {
    /// Average pooling with a `kernel` × `kernel` window and equal stride, no padding
    /// (`nn.AvgPool2d(k)`): [N, C, H, W] → [N, C, H/k, W/k] (floor).
    public func avgPool2d(kernel: Int) -> Tensor {
        precondition(rank == 4, "avg_pool2d: input \(shape) must be [N, C, H, W]")
        if kernel == 1 { return self }
        let (planes, h, w) = (shape[0] * shape[1], shape[2], shape[3])
        let (oh, ow) = (h / kernel, w / kernel)
        precondition(oh > 0 && ow > 0, "avg_pool2d: input \(shape) is smaller than the \(kernel)×\(kernel) window")
        let out = Tensor(uninitializedShape: [shape[0], shape[1], oh, ow])
        let scale = 1 / Float(kernel * kernel)
        let x = pointer, y = out.pointer
        Parallel.forEach(planes, grain: 1) { range in
            for p in range {
                for i in 0..<oh {
                    for j in 0..<ow {
                        var total: Float = 0
                        for a in 0..<kernel { for b in 0..<kernel { total += x[(p * h + i * kernel + a) * w + j * kernel + b] } }
                        y[(p * oh + i) * ow + j] = total * scale
                    }
                }
            }
        }
        return Tensor.record("avg_pool2d", inputs: [self], output: out) { [shape] g in
            let dx = Tensor(repeating: 0, shape: shape)
            let dp = dx.pointer, gp = g.pointer
            Parallel.forEach(planes, grain: 1) { range in
                for p in range {
                    for i in 0..<oh {
                        for j in 0..<ow {
                            let value = gp[(p * oh + i) * ow + j] * scale
                            for a in 0..<kernel { for b in 0..<kernel { dp[(p * h + i * kernel + a) * w + j * kernel + b] = value } }
                        }
                    }
                }
            }
            return [dx]
        }
    }

    /// Bilinear resize of [N, C, H, W] to `size` (PyTorch `interpolate(mode="bilinear")`).
    public func bilinearResized(to size: (Int, Int), alignCorners: Bool) -> Tensor {
        precondition(rank == 4, "bilinear: input \(shape) must be [N, C, H, W]")
        let (h, w) = (shape[2], shape[3])
        // Both conventions sample exactly the input grid at its own size.
        if (h, w) == size { return self }
        let rows = ResampleTaps.linear(input: h, output: size.0, alignCorners: alignCorners)
        let columns = ResampleTaps.linear(input: w, output: size.1, alignCorners: alignCorners)
        return resampled(rows: rows, columns: columns, op: "bilinear")
    }

    /// Nearest-neighbour resize (PyTorch `mode="nearest"`: source index floor(i · in/out)).
    public func nearestResized(to size: (Int, Int)) -> Tensor {
        precondition(rank == 4, "nearest: input \(shape) must be [N, C, H, W]")
        return resampled(rows: ResampleTaps.nearest(input: shape[2], output: size.0),
                         columns: ResampleTaps.nearest(input: shape[3], output: size.1), op: "nearest")
    }

    /// Bicubic resize with a = −0.75 and border-clamped taps (PyTorch `mode="bicubic"`).
    public func bicubicResized(to size: (Int, Int), alignCorners: Bool = false) -> Tensor {
        precondition(rank == 4, "bicubic: input \(shape) must be [N, C, H, W]")
        return resampled(rows: ResampleTaps.cubic(input: shape[2], output: size.0, alignCorners: alignCorners),
                         columns: ResampleTaps.cubic(input: shape[3], output: size.1, alignCorners: alignCorners), op: "bicubic")
    }

    /// Separable resampling: output[i, j] = Σ rows[i] · columns[j] · input.
    private func resampled(rows: ResampleTaps, columns: ResampleTaps, op: String) -> Tensor {
        let (planes, h, w) = (shape[0] * shape[1], shape[2], shape[3])
        let out = Tensor(uninitializedShape: [shape[0], shape[1], rows.outputCount, columns.outputCount])
        Kernels.resample(pointer, into: out.pointer, planes: planes, inputSize: (h, w), rows: rows, columns: columns)
        return Tensor.record(op, inputs: [self], output: out) { [shape] g in
            let dx = Tensor(uninitializedShape: shape)
            Kernels.resampleAdjoint(g.pointer, into: dx.pointer, planes: planes, inputSize: (h, w), rows: rows, columns: columns)
            return [dx]
        }
    }
}

extension Kernels {
    /// Applies separable taps to `planes` maps of `inputSize`: `source` [planes, h, w] →
    /// `target` [planes, oh, ow], every element written.
    ///
    /// Column taps first, once per input row that some output row reads, into a per-worker
    /// [h, ow] scratch; then each output row is a weighted sum of whole scratch rows, a
    /// contiguous pass that vectorises. (Per output row, the column taps would be gathered
    /// rowTaps · oh / h times over: 8× at a 4× up-sampling.) Each element gets the same
    /// products in the same order as tap-by-tap evaluation.
    static func resample(_ source: UnsafePointer<Float>, into target: UnsafeMutablePointer<Float>, planes: Int,
                         inputSize: (Int, Int), rows: ResampleTaps, columns: ResampleTaps) {
        let (h, w) = inputSize
        let (oh, ow) = (rows.outputCount, columns.outputCount)
        let (rowTaps, columnTaps) = (rows.tapCount, columns.tapCount)
        let readRows = rows.readInputRows(inputCount: h)
        rows.indices.withUnsafeBufferPointer { rowIndex in
        rows.weights.withUnsafeBufferPointer { rowWeight in
        columns.indices.withUnsafeBufferPointer { columnIndex in
        columns.weights.withUnsafeBufferPointer { columnWeight in
        readRows.withUnsafeBufferPointer { readRows in
            let (ri, rw, ci, cw) = (rowIndex.baseAddress!, rowWeight.baseAddress!, columnIndex.baseAddress!, columnWeight.baseAddress!)
            Parallel.forEach(planes, grain: Swift.max(1, 16_384 / Swift.max(1, oh * ow))) { range in
                let scratch = UnsafeMutablePointer<Float>.allocate(capacity: h * ow)
                defer { scratch.deallocate() }
                for p in range {
                    for r in readRows {
                        let line = source + (p * h + r) * w, resampled = scratch + r * ow
                        for j in 0..<ow {
                            var value: Float = 0
                            for c in 0..<columnTaps { value += cw[j * columnTaps + c] * line[ci[j * columnTaps + c]] }
                            resampled[j] = value
                        }
                    }
                    for i in 0..<oh {
                        let destination = target + (p * oh + i) * ow
                        let (first, weight) = (scratch + ri[i * rowTaps] * ow, rw[i * rowTaps])
                        for j in 0..<ow { destination[j] = weight * first[j] }
                        for t in 1..<rowTaps {
                            let (line, weight) = (scratch + ri[i * rowTaps + t] * ow, rw[i * rowTaps + t])
                            for j in 0..<ow { destination[j] += weight * line[j] }
                        }
                    }
                }
            }
        }
        }
        }
        }
        }
    }

    /// The adjoint of ``resample(_:into:planes:inputSize:rows:columns:)`` (its gradient):
    /// scatters `source` [planes, oh, ow] back onto `target` [planes, h, w], every element
    /// written. Row taps first, into a per-worker [h, ow] scratch (contiguous passes), then the
    /// column taps once per input row.
    static func resampleAdjoint(_ source: UnsafePointer<Float>, into target: UnsafeMutablePointer<Float>, planes: Int,
                                inputSize: (Int, Int), rows: ResampleTaps, columns: ResampleTaps) {
        let (h, w) = inputSize
        let (oh, ow) = (rows.outputCount, columns.outputCount)
        let (rowTaps, columnTaps) = (rows.tapCount, columns.tapCount)
        rows.indices.withUnsafeBufferPointer { rowIndex in
        rows.weights.withUnsafeBufferPointer { rowWeight in
        columns.indices.withUnsafeBufferPointer { columnIndex in
        columns.weights.withUnsafeBufferPointer { columnWeight in
            let (ri, rw, ci, cw) = (rowIndex.baseAddress!, rowWeight.baseAddress!, columnIndex.baseAddress!, columnWeight.baseAddress!)
            Parallel.forEach(planes, grain: Swift.max(1, 16_384 / Swift.max(1, oh * ow))) { range in
                let scratch = UnsafeMutablePointer<Float>.allocate(capacity: h * ow)
                defer { scratch.deallocate() }
                for p in range {
                    scratch.update(repeating: 0, count: h * ow)
                    for i in 0..<oh {
                        let line = source + (p * oh + i) * ow
                        for t in 0..<rowTaps {
                            let (destination, weight) = (scratch + ri[i * rowTaps + t] * ow, rw[i * rowTaps + t])
                            for j in 0..<ow { destination[j] += weight * line[j] }
                        }
                    }
                    target.advanced(by: p * h * w).update(repeating: 0, count: h * w)
                    for r in 0..<h {
                        let gathered = scratch + r * ow, destination = target + (p * h + r) * w
                        for j in 0..<ow {
                            let value = gathered[j]
                            for c in 0..<columnTaps { destination[ci[j * columnTaps + c]] += cw[j * columnTaps + c] * value }
                        }
                    }
                }
            }
        }
        }
        }
        }
    }
}

/// For each output position along one axis, the input indices and weights it reads.
struct ResampleTaps: Sendable {
    let outputCount: Int
    /// Taps per output position; position i reads `indices[i·tapCount ..< (i+1)·tapCount]`.
    let tapCount: Int
    let indices: [Int]
    let weights: [Float]

    /// The input indices (ascending) that at least one output position reads, of `inputCount`.
    func readInputRows(inputCount: Int) -> [Int] {
        var read = [Bool](repeating: false, count: inputCount)
        for index in indices { read[index] = true }
        return read.indices.filter { read[$0] }
    }

    /// Source coordinate of output `i` (PyTorch's area-pixel convention).
    private static func source(_ i: Int, input: Int, output: Int, alignCorners: Bool) -> Float {
        if alignCorners { return output > 1 ? Float(i) * Float(input - 1) / Float(output - 1) : 0 }
        return (Float(i) + 0.5) * Float(input) / Float(output) - 0.5
    }

    static func linear(input: Int, output: Int, alignCorners: Bool) -> ResampleTaps {
        var indices: [Int] = [], weights: [Float] = []
        for i in 0..<output {
            let x = Swift.max(source(i, input: input, output: output, alignCorners: alignCorners), 0)
            let low = Swift.min(Int(x), input - 1), high = Swift.min(low + 1, input - 1)
            let t = x - Float(low)
            indices += [low, high]
            weights += [1 - t, t]
        }
        return ResampleTaps(outputCount: output, tapCount: 2, indices: indices, weights: weights)
    }

    static func nearest(input: Int, output: Int) -> ResampleTaps {
        let indices = (0..<output).map { Swift.min(Int((Float($0) * Float(input) / Float(output)).rounded(.down)), input - 1) }
        return ResampleTaps(outputCount: output, tapCount: 1, indices: indices, weights: [Float](repeating: 1, count: output))
    }

    static func cubic(input: Int, output: Int, alignCorners: Bool) -> ResampleTaps {
        let a: Float = -0.75
        func near(_ t: Float) -> Float { ((a + 2) * t - (a + 3)) * t * t + 1 }
        func far(_ t: Float) -> Float { ((a * t - 5 * a) * t + 8 * a) * t - 4 * a }
        var indices: [Int] = [], weights: [Float] = []
        for i in 0..<output {
            let x = source(i, input: input, output: output, alignCorners: alignCorners)
            let base = Int(x.rounded(.down)), t = x - Float(base)
            let coefficients = [far(t + 1), near(t), near(1 - t), far(2 - t)]
            for k in 0..<4 {
                indices.append(Swift.min(Swift.max(base - 1 + k, 0), input - 1))
                weights.append(coefficients[k])
            }
        }
        return ResampleTaps(outputCount: output, tapCount: 4, indices: indices, weights: weights)
    }
}
