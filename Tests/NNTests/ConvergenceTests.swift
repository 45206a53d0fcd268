import Foundation
import NN
import Testing
import Tensor

@Suite struct ConvergenceTests {
    /// An MLP fits a smooth 2-D function to near-zero mean squared error.
    @Test func mlpFitsASyntheticRegression() {
        var generator = RandomGenerator(seed: 7)
        let model = MLP(2, hidden: 64, 1, activation: .gelu, generator: &generator)
        let inputs = Tensor.uniform([256, 2], low: -1, high: 1, using: &generator)
        let targets = Tensor((0..<256).map { i in
            let (a, b) = (inputs.pointer[2 * i], inputs.pointer[2 * i + 1])
            return Float(0.5 * sin(3 * Double(a)) * cos(2 * Double(b)))
        }, shape: [256, 1])
        let flat = FlatParameters(model)
        let optimizer = AdamW(flat) { _ in AdamW.Group(weightDecay: 0) }
        let initial = noGrad { Tensor.meanSquaredError(model(inputs), targets).item }
        var loss: Float = .infinity
        for step in 0..<1500 {
            flat.zeroGradients()
            let l = Tensor.meanSquaredError(model(inputs), targets)
            loss = l.item
            l.backward()
            optimizer.update(learningRate: step < 1000 ? 1e-2 : 2e-3)
        }
        #expect(loss < 1e-3, "final MSE \(loss) (initial \(initial))")
        #expect(loss < initial / 50)
    }

    /// A small conv net classifies synthetic stripe orientations (horizontal vs vertical vs
    /// checkerboard) to near-zero cross-entropy.
    @Test func convNetFitsASyntheticClassification() {
        var generator = RandomGenerator(seed: 11)
        let conv1 = Conv2d(1, 8, kernel: 3, padding: 1, generator: &generator)
        let norm = GroupNorm(groups: 2, channels: 8)
        let conv2 = Conv2d(8, 3, kernel: 3, padding: 1, generator: &generator)
        let model = Module()
        model.child("conv1", conv1)
        model.child("norm", norm)
        model.child("conv2", conv2)
        var images: [Float] = [], labels: [Int32] = []
        for sample in 0..<24 {
            let label = sample % 3, phase = sample / 3 % 2
            for y in 0..<8 {
                for x in 0..<8 {
                    let on = label == 0 ? (y + phase) % 2 : label == 1 ? (x + phase) % 2 : (x + y + phase) % 2
                    images.append(Float(on) + 0.1 * generator.nextNormal())
                }
            }
            labels.append(Int32(label))
        }
        let x = Tensor(images, shape: [24, 1, 8, 8])
        let flat = FlatParameters(model)
        let optimizer = AdamW(flat) { _ in AdamW.Group(weightDecay: 1e-4) }
        var loss: Float = .infinity
        for _ in 0..<300 {
            flat.zeroGradients()
            let logits = conv2(norm(conv1(x)).relu()).mean(axes: [2, 3])
            let l = Tensor.crossEntropy(logits, targets: labels)
            loss = l.item
            l.backward()
            optimizer.update(learningRate: 1e-2)
        }
        #expect(loss < 0.02, "final cross-entropy \(loss)")
    }
}
