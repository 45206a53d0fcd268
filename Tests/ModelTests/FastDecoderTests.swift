import NN
import Testing
import Tensor
@testable import Model

@Suite struct FastDecoderTests {
    static func decoder() -> CostAggregationDecoder {
        var configuration = CostAggregationDecoder.Configuration()
        (configuration.textWidth, configuration.imageChannels, configuration.hidden) = (32, 32, 32)
        (configuration.textGuidance, configuration.appearanceGuidance) = (16, 16)
        (configuration.decoderDims, configuration.decoderGuidanceDims, configuration.decoderGuidanceProjections) = ([16, 16], [24, 12], [8, 4])
        (configuration.resolution, configuration.window, configuration.padLength, configuration.pooling) = (12, 6, 8, 1)
        configuration.fast = true
        var generator = RandomGenerator(seed: 5)
        return CostAggregationDecoder(configuration, generator: &generator)
    }

    static func inputs(classes: Int) -> (Tensor, Tensor, [Tensor]) {
        var generator = RandomGenerator(seed: 6)
        return (Tensor.normal([1, 32, 12, 12], using: &generator), Tensor.normal([1, classes, 32], using: &generator),
                [Tensor.normal([1, 24, 24, 24], using: &generator), Tensor.normal([1, 12, 48, 48], using: &generator)])
    }

    @Test func survivorsAreTheUnionOfPerPixelTopK() {
        // 2 images, 4 classes, 2 pixels.
        let logits = Tensor([9, 1, 0, 5, /* class 1 */ 8, 0, 1, 6, /* class 2 */ 0, 2, 7, 0, /* class 3 */ 1, 3, 2, 9,
                             /* image 1 */ 0, 0, 0, 0, 1, 1, 1, 1, 0, 0, 0, 0, 5, 5, 5, 5].map(Float.init), shape: [2, 4, 2, 2])
        #expect(CostAggregationDecoder.survivors(logits, topK: 1) == [0, 2, 3])  // class 1 never wins a pixel
        #expect(CostAggregationDecoder.survivors(logits, topK: 2) == [0, 1, 2, 3])
        let single = Tensor([5, 5, 1, 1, 0, 0].map(Float.init), shape: [1, 3, 1, 2])
        #expect(CostAggregationDecoder.survivors(single, topK: 1) == [0])
        #expect(CostAggregationDecoder.survivors(single, topK: 2) == [0, 1])
        #expect(CostAggregationDecoder.survivors(single, topK: 5) == [0, 1, 2])
    }

    /// When every class survives, fast inference is σ of the standard decoder's logits.
    @Test(arguments: [5, 11])
    func withoutRejectionFastInferenceEqualsTheSigmoidOfTheLogits(classes: Int) {
        let decoder = Self.decoder()
        let (image, text, guidance) = Self.inputs(classes: classes)
        let (fast, full) = noGrad {
            (decoder.fastProbabilities(image: image, text: text, decoderGuidance: guidance, topK: classes, classPooling: 1),
             decoder(image: image, text: text, decoderGuidance: guidance, classPooling: 1).logits.sigmoid())
        }
        #expect(fast.shape == full.shape)
        #expect((0..<fast.count).allSatisfy { abs(fast.pointer[$0] - full.pointer[$0]) <= 1e-5 })
    }

    /// A first head that scores every class the same keeps only the lowest class index under
    /// top-1 (ties go to the lower index): the others must come out as exactly 0.
    @Test func rejectedClassesGetProbabilityZero() {
        let decoder = Self.decoder()
        for parameter in decoder.rejectionHeads[0].namedParameters() {
            parameter.tensor.pointer.initialize(repeating: 0, count: parameter.tensor.count)
        }
        let (image, text, guidance) = Self.inputs(classes: 7)
        let probabilities = noGrad { decoder.fastProbabilities(image: image, text: text, decoderGuidance: guidance, topK: 1, classPooling: 1) }
        let plane = 48 * 48
        let alive = (0..<7).filter { k in (0..<plane).contains { probabilities.pointer[k * plane + $0] != 0 } }
        #expect(alive == [0], "survivors \(alive)")
        for k in alive { #expect((0..<plane).allSatisfy { probabilities.pointer[k * plane + $0] > 0 && probabilities.pointer[k * plane + $0] < 1 }) }
    }
}
