// A fixed reordering of the token rows of every map, and the two operations that apply it in one
// pass: Swin's (shifted) window partition and its inverse folded into the residual sum.

/// A permutation of the R token rows of a map (a map is R rows of C channels, e.g. the H·W
/// positions of one class's cost map). Output row i takes input row `source[i]`.
public struct TokenPermutation: Sendable, Equatable {
    /// For every output row, the input row it takes (a permutation of `0..<count`).
    public let source: [Int32]

    /// `source` must hold each of `0..<source.count` exactly once.
    public init(source: [Int32]) {
        var seen = [Bool](repeating: false, count: source.count)
        for row in source {
            precondition(row >= 0 && Int(row) < source.count && !seen[Int(row)],
                         "TokenPermutation: \(source.count) rows do not form a permutation (row \(row))")
            seen[Int(row)] = true
        }
        self.source = source
    }

    /// The number of rows R it reorders.
    public var count: Int { source.count }

    /// The permutation that undoes this one.
    public var inverse: TokenPermutation {
        var inverse = [Int32](repeating: 0, count: source.count)
        for (output, input) in source.enumerated() { inverse[Int(input)] = Int32(output) }
        return TokenPermutation(source: inverse)
    }

    /// Swin's window partition of an H×W map (rows in raster order) after rolling it by −`shift`
    /// along both axes: output rows are the (H/size)·(W/size) windows in raster order, each
    /// holding its size² tokens in raster order. The same as `roll(−shift, −shift)` followed by
    /// `window_partition(size)`, without the three intermediate copies.
    public static func windows(height: Int, width: Int, size: Int, shift: Int) -> TokenPermutation {
        precondition(size > 0 && height % size == 0 && width % size == 0,
                     "TokenPermutation.windows: a \(height)×\(width) map does not split into \(size)×\(size) windows")
        var source: [Int32] = []
        source.reserveCapacity(height * width)
        for windowRow in 0..<(height / size) {
            for windowColumn in 0..<(width / size) {
                for y in 0..<size {
                    for x in 0..<size {
                        let row = (windowRow * size + y + shift) % height
                        let column = (windowColumn * size + x + shift) % width
                        source.append(Int32(row * width + column))
                    }
                }
            }
        }
        return TokenPermutation(source: source)
    }
}

extension Tensor {
    /// The token rows of every map reordered: `self` [M, R, C] → [M, R, C] with
    /// `out[m, i, :] = self[m, permutation.source[i], :]`. The gradient applies the inverse.
    public func permutingTokens(_ permutation: TokenPermutation) -> Tensor {
        let (maps, rows, channels) = tokenLayout(permutation, op: "permutingTokens")
        let out = Tensor(uninitializedShape: shape)
        Kernels.permuteRows(pointer, into: out.pointer, maps: maps, rows: rows, channels: channels, source: permutation.source)
        let inverse = permutation.inverse
        return Tensor.record("permute_tokens", inputs: [self], output: out) { g in [g.permutingTokens(inverse)] }
    }

    /// `self + other` with `other`'s token rows reordered first, in one pass: `self`, `other`
    /// [M, R, C] → [M, R, C] with `out[m, i, :] = self[m, i, :] + other[m, permutation.source[i], :]`
    /// (a residual sum whose branch comes back in window order).
    public func adding(_ other: Tensor, permutedBy permutation: TokenPermutation) -> Tensor {
        let (maps, rows, channels) = tokenLayout(permutation, op: "adding(_:permutedBy:)")
        precondition(other.shape == shape, "adding(_:permutedBy:): \(other.shape) does not match \(shape)")
        let out = Tensor(uninitializedShape: shape)
        let (x, y, z) = (pointer, other.pointer, out.pointer)
        let source = permutation.source
        source.withUnsafeBufferPointer { order in
            Parallel.forEach(maps * rows, grain: Swift.max(1, 16_384 / Swift.max(channels, 1))) { range in
                for index in range {
                    let (map, row) = index.quotientAndRemainder(dividingBy: rows)
                    let (a, b) = (x + index * channels, y + (map * rows + Int(order[row])) * channels)
                    let result = z + index * channels
                    for channel in 0..<channels { result[channel] = a[channel] + b[channel] }
                }
            }
        }
        let inverse = permutation.inverse
        return Tensor.record("add_permuted", inputs: [self, other], output: out) { g in [g, g.permutingTokens(inverse)] }
    }

    private func tokenLayout(_ permutation: TokenPermutation, op: String) -> (maps: Int, rows: Int, channels: Int) {
        precondition(rank == 3 && shape[1] == permutation.count,
                     "\(op): \(shape) is not [M, \(permutation.count), C]")
        return (shape[0], shape[1], shape[2])
    }
}

extension Kernels {
    /// `y[m, i, :] = x[m, source[i], :]` for maps of `rows` rows of `channels` floats.
    static func permuteRows(_ x: UnsafePointer<Float>, into y: UnsafeMutablePointer<Float>, maps: Int, rows: Int, channels: Int,
                            source: [Int32]) {
        source.withUnsafeBufferPointer { order in
            Parallel.forEach(maps * rows, grain: Swift.max(1, 16_384 / Swift.max(channels, 1))) { range in
                for index in range {
                    let (map, row) = index.quotientAndRemainder(dividingBy: rows)
                    (y + index * channels).update(from: x + (map * rows + Int(order[row])) * channels, count: channels)
                }
            }
        }
    }
}
