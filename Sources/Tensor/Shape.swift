// Reshaping, permuting, slicing, joining and padding, each with its gradient.

extension Tensor {
    /// The same elements with another shape (shares memory; one dimension may be -1).
    public func reshaped(_ newShape: [Int]) -> Tensor {
        var resolved = newShape
        if let unknown = newShape.firstIndex(of: -1) {
            let known = newShape.enumerated().filter { $0.offset != unknown }.reduce(1) { $0 * $1.element }
            precondition(known > 0 && count % known == 0, "reshape: cannot reshape \(shape) to \(newShape)")
            resolved[unknown] = count / known
        }
        precondition(resolved.reduce(1, *) == count, "reshape: cannot reshape \(shape) (\(count) elements) to \(newShape)")
        if resolved == shape { return self }
        let out = Tensor(shape: resolved, storage: storage)
        return Tensor.record("reshape", inputs: [self], output: out) { [shape] g in [g.reshaped(shape)] }
    }

    /// Collapses dimensions `start...end` into one.
    public func flattened(from start: Int = 0, to end: Int = -1) -> Tensor {
        let s = axis(start, op: "flatten"), e = axis(end, op: "flatten")
        return reshaped(Array(shape[..<s]) + [shape[s...e].reduce(1, *)] + Array(shape[(e + 1)...]))
    }

    /// Reorders dimensions: output dimension i is input dimension `order[i]` (materialised).
    public func permuted(_ order: [Int]) -> Tensor {
        let order = order.map { axis($0, op: "permute") }
        precondition(order.sorted() == Array(0..<rank), "permute: \(order) is not a permutation of the \(rank) dimensions of \(shape)")
        if order == Array(0..<rank) { return self }
        let outShape = order.map { shape[$0] }
        let out = Tensor(uninitializedShape: outShape)
        Kernels.permute(pointer, shape: shape, order: order, into: out.pointer)
        var inverse = [Int](repeating: 0, count: rank)
        for (i, o) in order.enumerated() { inverse[o] = i }
        return Tensor.record("permute", inputs: [self], output: out) { g in [g.permuted(inverse)] }
    }

    /// Swaps two dimensions (materialised).
    public func transposed(_ a: Int = -2, _ b: Int = -1) -> Tensor {
        var order = Array(0..<rank)
        order.swapAt(axis(a, op: "transpose"), axis(b, op: "transpose"))
        return permuted(order)
    }

    /// Elements `start..<start+length` along `dim` (materialised).
    public func narrowed(_ dim: Int, start: Int, length: Int) -> Tensor {
        let a = axis(dim, op: "narrow")
        precondition(start >= 0 && length >= 0 && start + length <= shape[a],
                     "narrow: range \(start)..<\(start + length) is outside dimension \(a) of shape \(shape)")
        if start == 0 && length == shape[a] { return self }
        let outer = shape[..<a].reduce(1, *), inner = shape[(a + 1)...].reduce(1, *), n = shape[a]
        var outShape = shape
        outShape[a] = length
        let out = Tensor(uninitializedShape: outShape)
        Kernels.copyBlocks(from: pointer, sourceRow: n * inner, sourceOffset: start * inner,
                           to: out.pointer, destinationRow: length * inner, destinationOffset: 0,
                           rows: outer, length: length * inner)
        return Tensor.record("narrow", inputs: [self], output: out) { [shape] g in
            var padding = [(Int, Int)](repeating: (0, 0), count: shape.count)
            padding[a] = (start, n - start - length)
            return [g.padded(padding)]
        }
    }

    /// Splits along `dim` into pieces of `sizes`.
    public func split(_ sizes: [Int], along dim: Int) -> [Tensor] {
        let a = axis(dim, op: "split")
        precondition(sizes.reduce(0, +) == shape[a], "split: sizes \(sizes) do not add up to dimension \(a) of shape \(shape)")
        var start = 0
        return sizes.map { size in
            defer { start += size }
            return narrowed(a, start: start, length: size)
        }
    }

    /// Joins tensors along `dim`; all other dimensions must agree.
    public static func concat(_ tensors: [Tensor], along dim: Int) -> Tensor {
        precondition(!tensors.isEmpty, "concat: no tensors")
        let first = tensors[0]
        let a = first.axis(dim, op: "concat")
        for t in tensors where t.rank != first.rank || (0..<first.rank).contains(where: { $0 != a && t.shape[$0] != first.shape[$0] }) {
            fatalError("concat: shapes \(tensors.map(\.shape)) differ outside dimension \(a)")
        }
        let outer = first.shape[..<a].reduce(1, *), inner = first.shape[(a + 1)...].reduce(1, *)
        let sizes = tensors.map { $0.shape[a] }
        let total = sizes.reduce(0, +)
        var outShape = first.shape
        outShape[a] = total
        let out = Tensor(uninitializedShape: outShape)
        var offset = 0
        for t in tensors {
            Kernels.copyBlocks(from: t.pointer, sourceRow: t.shape[a] * inner, sourceOffset: 0,
                               to: out.pointer, destinationRow: total * inner, destinationOffset: offset * inner,
                               rows: outer, length: t.shape[a] * inner)
            offset += t.shape[a]
        }
        // The inputs' flags, not the inputs: capturing them would keep every piece alive until backward.
        let needsGradient = tensors.map(\.requiresGrad)
        return record("concat", inputs: tensors, output: out) { g in
            let pieces = g.split(sizes, along: a)
            return zip(needsGradient, pieces).map { $0 ? $1 : nil }
        }
    }

    /// Pads with `value`: `padding[i]` = (before, after) for dimension i (missing leading entries = none).
    public func padded(_ padding: [(Int, Int)], value: Float = 0) -> Tensor {
        precondition(padding.count <= rank, "pad: \(padding.count) paddings for shape \(shape)")
        let full = [(Int, Int)](repeating: (0, 0), count: rank - padding.count) + padding
        precondition(full.allSatisfy { $0.0 >= 0 && $0.1 >= 0 }, "pad: negative padding \(padding)")
        let outShape = zip(shape, full).map { $0 + $1.0 + $1.1 }
        if outShape == shape { return self }
        let out = Tensor(repeating: value, shape: outShape)
        // Copy rows of the innermost dimension into place.
        let outStrides = contiguousStrides(outShape)
        let inner = shape.last ?? 1
        let rows = count / Swift.max(inner, 1)
        let outer = Array(shape.dropLast())
        let x = pointer, y = out.pointer
        Parallel.forEach(rows, grain: 256) { range in
            for row in range {
                var remainder = row, offset = full.last.map { $0.0 } ?? 0
                for d in stride(from: outer.count - 1, through: 0, by: -1) {
                    offset += (remainder % outer[d] + full[d].0) * outStrides[d]
                    remainder /= outer[d]
                }
                (y + offset).update(from: x + row * inner, count: inner)
            }
        }
        return Tensor.record("pad", inputs: [self], output: out) { [shape] g in
            var result = g
            for d in 0..<shape.count where full[d] != (0, 0) {
                result = noGrad { result.narrowed(d, start: full[d].0, length: shape[d]) }
            }
            return [result]
        }
    }

    /// Repeats the tensor `times[i]` times along each dimension (like `torch.Tensor.repeat`).
    public func repeated(_ times: [Int]) -> Tensor {
        precondition(times.count == rank, "repeat: \(times.count) factors for shape \(shape)")
        let interleaved = zip(times, shape).flatMap { [1, $1] }
        let expanded = zip(times, shape).flatMap { [$0, $1] }
        return reshaped(interleaved).broadcast(to: expanded).reshaped(zip(times, shape).map { $0 * $1 })
    }

    /// Rows `indices` of dimension `dim` (like `torch.index_select`); the gradient scatter-adds.
    public func indexSelect(_ dim: Int, _ indices: [Int]) -> Tensor {
        let a = axis(dim, op: "index_select")
        let outer = shape[..<a].reduce(1, *), n = shape[a], inner = shape[(a + 1)...].reduce(1, *)
        for index in indices where index < 0 || index >= n {
            fatalError("index_select: index \(index) is out of range for dimension \(a) of shape \(shape)")
        }
        var outShape = shape
        outShape[a] = indices.count
        let out = Tensor(uninitializedShape: outShape)
        for o in 0..<outer {
            for (j, index) in indices.enumerated() {
                (out.pointer + (o * indices.count + j) * inner).update(from: pointer + (o * n + index) * inner, count: inner)
            }
        }
        return Tensor.record("index_select", inputs: [self], output: out) { [shape] g in
            let dx = Tensor(repeating: 0, shape: shape)
            for o in 0..<outer {
                for (j, index) in indices.enumerated() {
                    Kernels.addInPlace(dx.pointer + (o * n + index) * inner, g.pointer + (o * indices.count + j) * inner, inner)
                }
            }
            return [dx]
        }
    }

    /// Cyclic shift by `shift` along `dim` (like `torch.roll`): element i moves to i + shift.
    public func rolled(_ shift: Int, along dim: Int) -> Tensor {
        let a = axis(dim, op: "roll")
        let n = shape[a]
        let s = ((shift % n) + n) % n
        if s == 0 { return self }
        return Tensor.concat([narrowed(a, start: n - s, length: s), narrowed(a, start: 0, length: n - s)], along: a)
    }
}

extension Kernels {
    /// Copies `rows` blocks of `length` floats between row-strided layouts.
    static func copyBlocks(from source: UnsafePointer<Float>, sourceRow: Int, sourceOffset: Int,
                           to destination: UnsafeMutablePointer<Float>, destinationRow: Int, destinationOffset: Int,
                           rows: Int, length: Int) {
        Parallel.forEach(rows, grain: Swift.max(1, 65_536 / Swift.max(length, 1))) { range in
            for row in range {
                (destination + row * destinationRow + destinationOffset)
                    .update(from: source + row * sourceRow + sourceOffset, count: length)
            }
        }
    }

    /// Writes `x` [shape] permuted by `order` into `y`: y's dimension i is x's dimension order[i].
    static func permute(_ x: UnsafePointer<Float>, shape: [Int], order: [Int], into y: UnsafeMutablePointer<Float>) {
        let inStrides = contiguousStrides(shape)
        let outShape = order.map { shape[$0] }
        let (dims, strides) = Broadcasting.collapse(outShape, [order.map { inStrides[$0] }])
        let readStrides = strides[0]
        let inner = dims[dims.count - 1], innerStride = readStrides[dims.count - 1]
        // Row by row, an output row gathering at stride > 1 reads one input line per element, and
        // the next rows reuse those lines only if they step along the input's contiguous axis and
        // one row's lines stay in L1 (≤ 512 of them); otherwise in tiles.
        if innerStride != 1, let unitAxis = readStrides.firstIndex(of: 1), unitAxis != dims.count - 2 || inner > 512 {
            transposeInTiles(x, dims: dims, readStrides: readStrides, unitAxis: unitAxis, into: y)
            return
        }
        let outer = Array(dims.dropLast())
        let rows = outer.reduce(1, *)
        Parallel.forEach(rows, grain: Swift.max(1, 16_384 / Swift.max(inner, 1))) { range in
            for row in range {
                var remainder = row, offset = 0
                for d in stride(from: outer.count - 1, through: 0, by: -1) {
                    offset += (remainder % outer[d]) * readStrides[d]
                    remainder /= outer[d]
                }
                let out = y + row * inner
                if innerStride == 1 {
                    out.update(from: x + offset, count: inner)
                } else {
                    for i in 0..<inner { out[i] = x[offset + i * innerStride] }
                }
            }
        }
    }

    /// A permutation whose output rows (the last of `dims`, read at stride > 1) gather across the
    /// input's contiguous axis (`dims[unitAxis]`, read at stride 1), done as 2-D transposes of
    /// tiles of `tile` × `tile` elements: each tile reads `tile` runs of consecutive input floats and
    /// writes `tile` runs of consecutive output floats, so it touches `tile` input pages instead of
    /// one page per output element. `dims`/`readStrides`: the collapsed output shape and the input
    /// stride of each of its axes; the output is contiguous.
    static func transposeInTiles(_ x: UnsafePointer<Float>, dims: [Int], readStrides: [Int], unitAxis: Int,
                                 into y: UnsafeMutablePointer<Float>) {
        let tile = 16
        let last = dims.count - 1
        let (columns, columnStride) = (dims[last], readStrides[last])
        let rowsAlong = dims[unitAxis]
        var writeStrides = [Int](repeating: 1, count: dims.count)
        for d in stride(from: last - 1, through: 0, by: -1) { writeStrides[d] = writeStrides[d + 1] * dims[d + 1] }
        let rowStride = writeStrides[unitAxis]
        // Every other axis indexes a separate 2-D transpose of [rowsAlong, columns].
        let others = (0..<last).filter { $0 != unitAxis }
        let planes = others.reduce(1) { $0 * dims[$1] }
        let rowBlocks = (rowsAlong + tile - 1) / tile
        Parallel.forEach(planes * rowBlocks, grain: Swift.max(1, 16_384 / Swift.max(tile * columns, 1))) { range in
            for item in range {
                var remainder = item / rowBlocks, readBase = 0, writeBase = 0
                for d in others.reversed() {
                    let index = remainder % dims[d]
                    remainder /= dims[d]
                    readBase += index * readStrides[d]
                    writeBase += index * writeStrides[d]
                }
                let rowStart = (item % rowBlocks) * tile, rowEnd = Swift.min(rowStart + tile, rowsAlong)
                for columnStart in stride(from: 0, to: columns, by: tile) {
                    let columnEnd = Swift.min(columnStart + tile, columns)
                    for row in rowStart..<rowEnd {
                        let source = x + readBase + row, destination = y + writeBase + row * rowStride
                        for column in columnStart..<columnEnd { destination[column] = source[column * columnStride] }
                    }
                }
            }
        }
    }
}

extension Tensor {
    /// Values of `self` picked along `dim` by `indices` (like `torch.gather`): `indices` has the
    /// output's shape `indexShape`, which matches `self` except along `dim`. The gradient scatter-adds.
    public func gather(_ dim: Int, indices: [Int32], indexShape: [Int]) -> Tensor {
        let a = axis(dim, op: "gather")
        precondition(indexShape.count == rank && indices.count == indexShape.reduce(1, *)
                     && (0..<rank).allSatisfy { $0 == a || indexShape[$0] == shape[$0] },
                     "gather: index shape \(indexShape) (\(indices.count) indices) does not fit input \(shape) along \(a)")
        let outer = shape[..<a].reduce(1, *), n = shape[a], m = indexShape[a], inner = shape[(a + 1)...].reduce(1, *)
        for index in indices where index < 0 || Int(index) >= n {
            fatalError("gather: index \(index) is out of range for dimension \(a) of shape \(shape)")
        }
        let out = Tensor(uninitializedShape: indexShape)
        let source = { (position: Int) in ((position / (m * inner)) * n + Int(indices[position])) * inner + position % inner }
        for position in 0..<(outer * m * inner) { out.pointer[position] = pointer[source(position)] }
        return Tensor.record("gather", inputs: [self], output: out) { [shape] g in
            let dx = Tensor(repeating: 0, shape: shape)
            for position in 0..<g.count { dx.pointer[source(position)] += g.pointer[position] }
            return [dx]
        }
    }

    /// Swin's window partition: [B, H, W, C] → [B·(H/size)·(W/size), size·size, C].
    public func windowPartition(size: Int) -> Tensor {
        precondition(rank == 4 && shape[1] % size == 0 && shape[2] % size == 0,
                     "window_partition: \(shape) is not [B, H, W, C] with H and W multiples of \(size)")
        let (b, h, w, c) = (shape[0], shape[1], shape[2], shape[3])
        return reshaped([b, h / size, size, w / size, size, c]).permuted([0, 1, 3, 2, 4, 5]).reshaped([-1, size * size, c])
    }

    /// Inverse of ``windowPartition(size:)``: [B·(H/size)·(W/size), size·size, C] → [B, H, W, C].
    public func windowReverse(size: Int, height: Int, width: Int) -> Tensor {
        let c = shape[rank - 1]
        let b = count / (height * width * c)
        precondition(b * height * width * c == count, "window_reverse: \(shape) does not hold windows of a \(height)×\(width) map")
        return reshaped([b, height / size, width / size, size, size, c]).permuted([0, 1, 3, 2, 4, 5]).reshaped([b, height, width, c])
    }
}
