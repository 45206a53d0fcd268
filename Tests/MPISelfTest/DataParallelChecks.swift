import Distributed
import Foundation
import NN
import Tensor

/// The small model of the data-parallel checks: Linear → GELU → LayerNorm → Linear, 3 classes.
final class TinyClassifier: Module {
    let fc1: Linear, norm: LayerNorm, fc2: Linear

    init(seed: UInt64) {
        var generator = RandomGenerator(seed: seed)
        fc1 = Linear(6, 16, generator: &generator)
        norm = LayerNorm(16)
        fc2 = Linear(16, 3, generator: &generator)
        super.init()
        child("fc1", fc1)
        child("norm", norm)
        child("fc2", fc2)
    }

    /// Cross-entropy of sample `index` of a fixed synthetic data set, scaled by `weight`.
    func loss(sample index: Int, weight: Float) -> Tensor {
        var generator = RandomGenerator(seed: 1000 + UInt64(index))
        let x = Tensor.normal([1, 6], using: &generator)
        let logits = fc2(norm(fc1(x).gelu()))
        return Tensor.crossEntropy(logits, targets: [Int32(index % 3)]) * weight
    }
}

enum OptimizerKind: String, CaseIterable { case sgd, adamw }

/// Updates `flat` with the chosen optimiser.
struct Updater {
    let step: (Float) -> Void
    init(_ kind: OptimizerKind, _ flat: FlatParameters) {
        switch kind {
        case .sgd: let sgd = SGD(flat); step = { sgd.update(learningRate: $0) }
        case .adamw: let adam = AdamW(flat) { _ in AdamW.Group(weightDecay: 1e-2) }; step = { adam.update(learningRate: $0) }
        }
    }
}

/// Trains `steps` steps data-parallel: each rank takes `microBatches` samples per step (the
/// last one synchronises), and returns the trained model.
func trainDataParallel(_ world: any Communicator, optimizer: OptimizerKind, overlap: GradientReducer.OverlapPolicy,
                       transport: GradientReducer.Transport = .auto, microBatches: Int, steps: Int, failAtStep: Int? = nil,
                       failure: (() throws -> Void)? = nil) throws -> TinyClassifier {
    let model = TinyClassifier(seed: UInt64(42 + world.rank))  // deliberately different: broadcast must fix it
    try Replicas.broadcastFromRoot(model, communicator: world)
    try Replicas.verify(model, communicator: world, step: 0)
    let flat = FlatParameters(model)
    let reducer = try GradientReducer(parameters: flat, communicator: world, bucketBytes: 512, overlap: overlap,
                                      transport: transport)
    let updater = Updater(optimizer, flat)
    for step in 0..<steps {
        if step == failAtStep, let failure { try failure() }
        flat.zeroGradients()
        for micro in 0..<microBatches {
            reducer.isSynchronizing = micro == microBatches - 1
            reducer.prepareForBackward()
            let sample = (step * microBatches + micro) * world.size + world.rank
            model.loss(sample: sample, weight: 1 / Float(microBatches)).backward(leafGradientReady: reducer.gradientReady)
        }
        try reducer.finish()
        updater.step(0.05)
    }
    return model
}

/// The same training in one process: each step accumulates the gradients of all ranks' samples.
func trainReference(size: Int, optimizer: OptimizerKind, microBatches: Int, steps: Int) -> TinyClassifier {
    let model = TinyClassifier(seed: 42)
    let flat = FlatParameters(model)
    let updater = Updater(optimizer, flat)
    for step in 0..<steps {
        flat.zeroGradients()
        for micro in 0..<microBatches {
            for rank in 0..<size {
                let sample = (step * microBatches + micro) * size + rank
                model.loss(sample: sample, weight: 1 / Float(microBatches * size)).backward()
            }
        }
        updater.step(0.05)
    }
    return model
}

/// Max |a − b| over all parameters.
func maxDifference(_ a: Module, _ b: Module) -> Float {
    zip(a.namedParameters(), b.namedParameters()).map { x, y in
        (0..<x.tensor.count).map { abs(x.tensor.pointer[$0] - y.tensor.pointer[$0]) }.max() ?? 0
    }.max() ?? 0
}

func runDataParallelChecks(_ world: any Communicator, _ checks: Checks) throws {
    for optimizer in OptimizerKind.allCases {
        let paths: [(GradientReducer.OverlapPolicy, GradientReducer.Transport)] = [(.off, .shared), (.off, .mpi), (.on, .mpi)]
        for (overlap, transport) in paths {
            for microBatches in [1, 2] {
                let trained = try trainDataParallel(world, optimizer: optimizer, overlap: overlap, transport: transport,
                                                    microBatches: microBatches, steps: 5)
                let reference = trainReference(size: world.size, optimizer: optimizer, microBatches: microBatches, steps: 5)
                let difference = maxDifference(trained, reference)
                let bound: Float = optimizer == .sgd ? 1e-6 : 1e-5
                checks.expect(difference <= bound,
                              "\(optimizer) overlap=\(overlap) transport=\(transport) accumulate=\(microBatches): max |Δparam| \(difference) vs single process > \(bound)")
                // Replicas stay identical, and a perturbed replica is detected on every rank.
                do {
                    try Replicas.verify(trained, communicator: world, step: 5)
                    checks.expect(true, "")
                } catch {
                    checks.expect(false, "replicas differ after training: \(error)")
                }
                if world.size > 1 {
                    if world.rank == world.size - 1 { trained.fc1.weight.pointer[0] += 1e-6 }
                    do {
                        try Replicas.verify(trained, communicator: world, step: 6)
                        checks.expect(false, "a perturbed replica was not detected")
                    } catch let mismatch as ReplicaMismatch {
                        checks.expect(mismatch.ranks == [world.size - 1], "mismatch names ranks \(mismatch.ranks)")
                    }
                }
            }
        }
    }
}
