import Testing
import Tensor

@Suite struct TokenPermutationTests {
    /// The one-pass window order equals roll(−shift) on both axes followed by window_partition,
    /// and its inverse equals window_reverse followed by roll(+shift).
    @Test(arguments: [(4, 6, 2, 0), (4, 6, 2, 1), (6, 6, 3, 1), (6, 9, 3, 2), (8, 8, 4, 2)])
    func windowOrderMatchesRollAndPartition(geometry: (Int, Int, Int, Int)) {
        let (height, width, size, shift) = geometry
        let map = randomInput([2, height, width, 3], seed: 50)
        let composed = map.rolled(-shift, along: 1).rolled(-shift, along: 2).windowPartition(size: size)
        let order = TokenPermutation.windows(height: height, width: width, size: size, shift: shift)
        let permuted = map.reshaped([2, height * width, 3]).permutingTokens(order)
        #expect(permuted.scalars == composed.scalars)
        let back = composed.windowReverse(size: size, height: height, width: width).rolled(shift, along: 1).rolled(shift, along: 2)
        #expect(permuted.permutingTokens(order.inverse).scalars == back.scalars)
        #expect(back.scalars == map.scalars)
    }

    @Test func addingPermutedEqualsPermuteThenAdd() {
        let order = TokenPermutation.windows(height: 4, width: 6, size: 2, shift: 1)
        let (x, y) = (randomInput([3, 24, 5], seed: 51), randomInput([3, 24, 5], seed: 52))
        #expect(x.adding(y, permutedBy: order).scalars == (x + y.permutingTokens(order)).scalars)
    }

    @Test func gradients() {
        let order = TokenPermutation.windows(height: 4, width: 6, size: 2, shift: 1)
        let (x, y) = (randomInput([2, 24, 3], seed: 53), randomInput([2, 24, 3], seed: 54))
        checkGradients("permutingTokens", [x]) { $0[0].permutingTokens(order) * $0[0] }
        checkGradients("adding(_:permutedBy:)", [x, y]) { $0[0].adding($0[1], permutedBy: order) * $0[1] }
    }

    @Test func inverseUndoesTheOrder() {
        let order = TokenPermutation(source: [2, 0, 3, 1])
        #expect(order.inverse.source == [1, 3, 0, 2])
        #expect(order.inverse.inverse == order)
        #expect(TokenPermutation.windows(height: 4, width: 4, size: 4, shift: 0).source == (0..<16).map(Int32.init))
    }
}
