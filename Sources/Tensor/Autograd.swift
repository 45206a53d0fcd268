#if canImport(Glibc)
import Glibc
#endif

/// Where a gradient flowing backward out of a node goes.
enum GradientEdge {
    /// Into the node that produced the input.
    case node(GradientNode)
    /// Into the `.grad` of a leaf tensor that requires gradients.
    case leaf(Tensor)
}

/// One recorded operation: its inputs' edges and the closure that maps the output gradient to
/// the input gradients. The closure holds the tensors the operation saved; it is dropped as soon
/// as it has run, which releases them.
final class GradientNode {
    let operation: String
    /// The profiler section the operation was recorded in (only while profiling).
    private let section: String?
    private(set) var edges: [GradientEdge?]
    private var backwardFunction: ((Tensor) -> [Tensor?])?

    init(operation: String, edges: [GradientEdge?], backward: @escaping (Tensor) -> [Tensor?]) {
        self.operation = operation
        self.edges = edges
        backwardFunction = backward
        section = Profiler.currentSection
    }

    /// Runs the backward closure once and releases it with everything it saved.
    func runBackward(_ outputGradient: Tensor) -> [Tensor?] {
        guard let function = backwardFunction else {
            fatalError("backward through \(operation) a second time: its saved tensors were already released")
        }
        backwardFunction = nil
        let gradients = section.map { Profiler.backward(of: $0) { function(outputGradient) } } ?? function(outputGradient)
        precondition(gradients.count == edges.count, "\(operation): backward returned \(gradients.count) gradients for \(edges.count) inputs")
        return gradients
    }

    /// Forgets the graph behind this node after backward.
    func releaseEdges() { edges = [] }
}

/// Whether operations record history on the current thread (`noGrad {}` turns it off there).
public enum GradientMode {
    /// A thread-specific slot that holds a non-nil marker while recording is off.
    private static let disabledKey: pthread_key_t = {
        var key = pthread_key_t()
        pthread_key_create(&key, nil)
        return key
    }()

    public static var isEnabled: Bool {
        get { pthread_getspecific(disabledKey) == nil }
        set { pthread_setspecific(disabledKey, newValue ? nil : UnsafeRawPointer(bitPattern: 1)) }
    }
}

/// Runs `body` without recording operations for differentiation (evaluation, optimiser steps).
public func noGrad<Result>(_ body: () throws -> Result) rethrows -> Result {
    let previous = GradientMode.isEnabled
    GradientMode.isEnabled = false
    defer { GradientMode.isEnabled = previous }
    return try body()
}

extension Tensor {
    /// Where gradients for this tensor go, or nil when it needs none.
    var gradientEdge: GradientEdge? {
        if let gradientNode { return .node(gradientNode) }
        return requiresGrad ? .leaf(self) : nil
    }

    /// Records `output = operation(inputs)` with `backward` mapping d(output) to d(inputs)
    /// (nil for inputs that need no gradient). Does nothing when no input requires gradients or
    /// recording is off. Returns `output`.
    @discardableResult
    static func record(_ operation: String, inputs: [Tensor], output: Tensor,
                       backward: @escaping (Tensor) -> [Tensor?]) -> Tensor {
        guard GradientMode.isEnabled else { return output }
        let edges = inputs.map(\.gradientEdge)
        guard edges.contains(where: { $0 != nil }) else { return output }
        output.gradientNode = GradientNode(operation: operation, edges: edges, backward: backward)
        output.requiresGrad = true
        return output
    }

    /// Back-propagates from this scalar: every leaf that requires gradients gets d(self)/d(leaf)
    /// added to its `.grad` (gradients accumulate across calls, as in PyTorch). The graph and
    /// everything it saved are released afterwards. Each leaf's ``gradientAccumulatedHook`` runs
    /// once, after the pass's last contribution to it, in the order backward completes the leaves.
    public func backward() {
        precondition(count == 1, "backward: the output must be a scalar, got shape \(shape)")
        backward(gradient: Tensor(repeating: 1, shape: shape))
    }

    /// Back-propagates `gradient` [same shape as self].
    public func backward(gradient: Tensor) {
        precondition(gradient.shape == shape, "backward: gradient shape \(gradient.shape) differs from \(shape)")
        guard let root = gradientNode else {
            if requiresGrad { accumulateLeafGradient(gradient); gradientAccumulatedHook?(self) }
            return
        }
        // Count, for every node, how many edges point at it; for every leaf, how many edges reach it.
        var pendingConsumers: [ObjectIdentifier: Int] = [:]
        var leafUses: [ObjectIdentifier: Int] = [:]
        var stack = [root]
        var visited: Set<ObjectIdentifier> = [ObjectIdentifier(root)]
        while let node = stack.popLast() {
            for edge in node.edges {
                switch edge {
                case .node(let input):
                    let id = ObjectIdentifier(input)
                    pendingConsumers[id, default: 0] += 1
                    if visited.insert(id).inserted { stack.append(input) }
                case .leaf(let tensor):
                    leafUses[ObjectIdentifier(tensor), default: 0] += 1
                case nil:
                    break
                }
            }
        }
        // Process nodes once all their consumers have contributed (Kahn's algorithm).
        var gradients: [ObjectIdentifier: Tensor] = [ObjectIdentifier(root): gradient]
        var ready = [root]
        while let node = ready.popLast() {
            let id = ObjectIdentifier(node)
            // A node that received no gradient still releases its inputs' pending counts.
            let inputGradients = gradients.removeValue(forKey: id).map { node.runBackward($0) }
                ?? [Tensor?](repeating: nil, count: node.edges.count)
            for (edge, inputGradient) in zip(node.edges, inputGradients) {
                switch edge {
                case .node(let input):
                    let inputId = ObjectIdentifier(input)
                    if let inputGradient {
                        if let existing = gradients[inputId] {
                            gradients[inputId] = noGrad { existing + inputGradient }
                        } else {
                            gradients[inputId] = inputGradient
                        }
                    }
                    pendingConsumers[inputId]! -= 1
                    if pendingConsumers[inputId] == 0 { ready.append(input) }
                case .leaf(let tensor):
                    if let inputGradient { tensor.accumulateLeafGradient(inputGradient) }
                    let leafId = ObjectIdentifier(tensor)
                    leafUses[leafId]! -= 1
                    if leafUses[leafId] == 0 { tensor.gradientAccumulatedHook?(tensor) }
                case nil:
                    break
                }
            }
            node.releaseEdges()
        }
        gradientNode = nil
    }

    /// Adds `gradient` into `.grad` in place (allocating it on first use).
    func accumulateLeafGradient(_ gradient: Tensor) {
        precondition(gradient.shape == shape, "gradient of shape \(gradient.shape) for a leaf of shape \(shape)")
        if let grad {
            Kernels.addInPlace(grad.pointer, gradient.pointer, count)
        } else {
            let copy = Tensor(uninitializedShape: shape)
            copy.pointer.update(from: gradient.pointer, count: count)
            grad = copy
        }
    }
}
