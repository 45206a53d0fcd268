import Testing
@testable import Tensor

/// `permuted` against index arithmetic, on shapes that take each of its paths: contiguous rows,
/// row-by-row gathers, and the tiled transpose (rows gathering across the input's contiguous axis
/// when that axis is not the row axis or the rows are long), with sizes that are not multiples of
/// the tile.
@Suite struct PermuteTests {
    static func naive(_ x: Tensor, _ order: [Int]) -> [Float] {
        let shape = x.shape, outShape = order.map { shape[$0] }
        var inStrides = [Int](repeating: 1, count: shape.count)
        for d in stride(from: shape.count - 2, through: 0, by: -1) { inStrides[d] = inStrides[d + 1] * shape[d + 1] }
        var result = [Float](repeating: 0, count: x.count)
        for position in 0..<x.count {
            var remainder = position, offset = 0
            for d in stride(from: outShape.count - 1, through: 0, by: -1) {
                offset += (remainder % outShape[d]) * inStrides[order[d]]
                remainder /= outShape[d]
            }
            result[position] = x.pointer[offset]
        }
        return result
    }

    static func orders(_ rank: Int) -> [[Int]] {
        guard rank > 1 else { return [[0]] }
        return orders(rank - 1).flatMap { order in (0...order.count).map { i in
            var o = order; o.insert(rank - 1, at: i); return o
        } }
    }

    @Test(arguments: [[3, 37, 5, 19], [2, 17, 600], [1, 33, 7, 2, 45], [600, 20]])
    func everyOrderMatchesIndexArithmetic(shape: [Int]) {
        let x = Tensor(uninitializedShape: shape)
        for i in 0..<x.count { x.pointer[i] = Float(i) }
        for order in Self.orders(shape.count) {
            #expect(x.permuted(order).scalars == Self.naive(x, order), "shape \(shape), order \(order)")
        }
    }

    /// The spatial aggregation's layout change and its inverse (the inverse takes the tiled path).
    @Test func spatialAggregationLayoutRoundTrips() {
        let x = Tensor(uninitializedShape: [1, 32, 11, 24, 24])
        for i in 0..<x.count { x.pointer[i] = Float(i) }
        let tokens = x.permuted([0, 2, 3, 4, 1])
        #expect(tokens.scalars == Self.naive(x, [0, 2, 3, 4, 1]))
        #expect(tokens.permuted([0, 4, 1, 2, 3]).scalars == x.scalars)
    }
}
