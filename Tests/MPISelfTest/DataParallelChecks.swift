import Distributed
import Foundation
import NN
import Tensor

/// The small model of the data-parallel checks: Linear → GELU → LayerNorm → Linear, 3 classes.
final class TinyClassifier: Module {
    let fc1: Linear, norm: LayerNorm, fc2: Linear

    /// `registeredBackwards`: register the layers last to first, so that the flat gradient buffer
    /// (reverse registration order) runs in forward order and its first bucket is the last to be
    /// final in backward — buckets fill out of buffer order.
    init(seed: UInt64, registeredBackwards: Bool = false) {
        var generator = RandomGenerator(seed: seed)
        fc1 = Linear(6, 16, generator: &generator)
        norm = LayerNorm(16)
        fc2 = Linear(16, 3, generator: &generator)
        super.init()
        let layers: [(String, Module)] = [("fc1", fc1), ("norm", norm), ("fc2", fc2)]
        for (name, layer) in registeredBackwards ? layers.reversed() : layers { child(name, layer) }
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
/// last one synchronises; the reducer averages over them), and returns the trained model.
/// `buckets`: of the last step's buckets (`of`), how many started during backward and how many
/// had to wait for an earlier one in the schedule after they were full; `sharedMemory`: whether
/// the gradients lived in memory shared by the ranks of a host.
func trainDataParallel(_ world: any Communicator, optimizer: OptimizerKind, overlap: GradientReducer.OverlapPolicy,
                       transport: GradientReducer.Transport = .auto, microBatches: Int, steps: Int, registeredBackwards: Bool = false,
                       failAtStep: Int? = nil, failure: (() throws -> Void)? = nil)
    throws -> (model: TinyClassifier, buckets: (started: Int, heldBack: Int, of: Int), sharedMemory: Bool) {
    // Deliberately different initial values: broadcast must fix them.
    let model = TinyClassifier(seed: UInt64(42 + world.rank), registeredBackwards: registeredBackwards)
    try Replicas.broadcastFromRoot(model, communicator: world)
    try Replicas.verify(model, communicator: world, step: 0)
    let flat = FlatParameters(model)
    let reducer = try GradientReducer(parameters: flat, communicator: world, bucketBytes: 128, overlap: overlap,
                                      transport: transport, accumulationSteps: microBatches)
    let updater = Updater(optimizer, flat)
    for step in 0..<steps {
        if step == failAtStep, let failure { try failure() }
        flat.zeroGradients()
        for micro in 0..<microBatches {
            reducer.isSynchronizing = micro == microBatches - 1
            reducer.prepareForBackward()
            let sample = (step * microBatches + micro) * world.size + world.rank
            model.loss(sample: sample, weight: 1).backward()
        }
        try reducer.finish()
        updater.step(0.05)
    }
    return (model, (reducer.lastBucketsStartedDuringBackward, reducer.lastBucketsHeldBack, reducer.buckets.count), reducer.usesSharedMemory)
}

/// The same training in one process: each step accumulates the gradients of all ranks' samples.
func trainReference(size: Int, optimizer: OptimizerKind, microBatches: Int, steps: Int, registeredBackwards: Bool = false) -> TinyClassifier {
    let model = TinyClassifier(seed: 42, registeredBackwards: registeredBackwards)
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
        // Every transport, after backward and overlapped; the overlapped ones also with buckets
        // that fill out of buffer order.
        let paths: [(GradientReducer.OverlapPolicy, GradientReducer.Transport, Bool)] = [
            (.off, .shared, false), (.off, .mpi, false), (.on, .mpi, false), (.on, .mpi, true), (.on, .shared, false), (.on, .shared, true),
        ]
        for (overlap, transport, registeredBackwards) in paths {
            for microBatches in [1, 2] {
                let path = "\(optimizer) overlap=\(overlap) transport=\(transport)\(registeredBackwards ? " out-of-order" : "") accumulate=\(microBatches)"
                let (trained, buckets, sharedMemory) = try trainDataParallel(world, optimizer: optimizer, overlap: overlap, transport: transport,
                                                               microBatches: microBatches, steps: 5, registeredBackwards: registeredBackwards)
                let reference = trainReference(size: world.size, optimizer: optimizer, microBatches: microBatches, steps: 5,
                                               registeredBackwards: registeredBackwards)
                let difference = maxDifference(trained, reference)
                let bound: Float = optimizer == .sgd ? 1e-6 : 1e-5
                checks.expect(difference <= bound, "\(path): max |Δparam| \(difference) vs single process > \(bound)")
                // With overlap, every bucket starts during backward, as soon as it is full, once the
                // schedule is learned (buckets started strictly in buffer order would wait when
                // registered backwards).
                let overlapping = overlap == .on && world.size > 1
                checks.expect(buckets.started == (overlapping ? buckets.of : 0) && buckets.heldBack == 0,
                              "\(path): \(buckets.started) of \(buckets.of) buckets started during the last backward, \(buckets.heldBack) held back")
                checks.expect(buckets.of >= 3, "\(path): only \(buckets.of) buckets")
                checks.expect(sharedMemory == (transport == .shared && world.size > 1), "\(path): gradients in shared memory: \(sharedMemory)")
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
    try checkRanksAgreeOnReadiness(world, checks)
}

/// A rank whose first backward reaches different parameters (the last rank skips fc1) makes
/// every rank's first `finish()` throw the same error naming it, instead of leaving the ranks
/// to issue different collectives.
func checkRanksAgreeOnReadiness(_ world: any Communicator, _ checks: Checks) throws {
    guard world.size > 1 else { return }
    let model = TinyClassifier(seed: 42)
    let flat = FlatParameters(model)
    let reducer = try GradientReducer(parameters: flat, communicator: world, bucketBytes: 512, overlap: .on, transport: .mpi)
    reducer.prepareForBackward()
    var generator = RandomGenerator(seed: 7)
    let x = Tensor.normal([1, 16], using: &generator)
    let features = world.rank == world.size - 1 ? x : model.fc1(Tensor.normal([1, 6], using: &generator)).gelu()
    Tensor.crossEntropy(model.fc2(model.norm(features)), targets: [1]).backward()
    do {
        try reducer.finish()
        checks.expect(false, "ranks with different backward graphs were not detected")
    } catch let error as GradientReadinessError {
        checks.expect(error == .ranksDisagree(ranks: [world.size - 1]), "disagreement error: \(error)")
    }
}
