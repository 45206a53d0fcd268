import Tensor

/// A neural-network building block that owns named parameters, buffers and child modules,
/// registered in order, with PyTorch-style dotted names (`blocks.0.attn.q_proj.weight`) so
/// weights map to and from PyTorch checkpoints by name.
open class Module {
    public private(set) var ownParameters: [(name: String, tensor: Tensor)] = []
    public private(set) var ownBuffers: [(name: String, tensor: Tensor)] = []
    public private(set) var children: [(name: String, module: Module)] = []
    /// Training mode (batch statistics in BatchNorm, pooling choices, ...).
    public private(set) var isTraining = true

    public init() {}

    /// Registers a trainable parameter (gradients on) and returns it.
    @discardableResult
    public func parameter(_ name: String, _ tensor: Tensor) -> Tensor {
        precondition(!ownParameters.contains { $0.name == name }, "\(type(of: self)): parameter \(name) registered twice")
        tensor.requiresGrad = true
        ownParameters.append((name, tensor))
        return tensor
    }

    /// Registers a state tensor that is saved with the model but not trained (e.g. running statistics).
    @discardableResult
    public func buffer(_ name: String, _ tensor: Tensor) -> Tensor {
        ownBuffers.append((name, tensor))
        return tensor
    }

    /// Registers a child module and returns it.
    @discardableResult
    public func child<M: Module>(_ name: String, _ module: M) -> M {
        precondition(!children.contains { $0.name == name }, "\(type(of: self)): child \(name) registered twice")
        children.append((name, module))
        return module
    }

    /// Every parameter of this module and its descendants, in registration order, with dotted names.
    public func namedParameters(prefix: String = "") -> [(name: String, tensor: Tensor)] {
        ownParameters.map { (prefix + $0.name, $0.tensor) }
            + children.flatMap { $0.module.namedParameters(prefix: prefix + $0.name + ".") }
    }

    /// Every buffer of this module and its descendants, with dotted names.
    public func namedBuffers(prefix: String = "") -> [(name: String, tensor: Tensor)] {
        ownBuffers.map { (prefix + $0.name, $0.tensor) }
            + children.flatMap { $0.module.namedBuffers(prefix: prefix + $0.name + ".") }
    }

    /// Parameters whose gradients are computed.
    public func trainableParameters() -> [(name: String, tensor: Tensor)] {
        namedParameters().filter { $0.tensor.requiresGrad }
    }

    /// Sets training mode on this module and every descendant.
    public func train(_ on: Bool = true) {
        isTraining = on
        children.forEach { $0.module.train(on) }
    }

    /// Evaluation mode (`train(false)`).
    public func eval() { train(false) }

    /// Freezes (or unfreezes) the parameters whose dotted name satisfies `predicate`.
    public func setTrainable(_ trainable: Bool, where predicate: (String) -> Bool) {
        for (name, tensor) in namedParameters() where predicate(name) { tensor.requiresGrad = trainable }
    }
}
