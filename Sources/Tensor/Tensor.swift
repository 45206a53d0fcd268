/// An n-dimensional array of `Float`, row-major and contiguous, that records the operations
/// applied to it for reverse-mode differentiation (PyTorch semantics).
///
/// Tensors are immutable in shape; operations return new tensors. Element access for tests and
/// small data goes through ``scalars``; kernels work on ``storage``'s pointer.
public final class Tensor: @unchecked Sendable, CustomStringConvertible {
    /// Dimensions, outermost first; `[]` for a scalar.
    public let shape: [Int]
    /// The floats, `shape.product` of them, row-major. Parameters are moved into windows of a
    /// flat buffer with ``rebind(to:offset:)``.
    public private(set) var storage: TensorStorage
    /// Whether gradients flow to this tensor. Set on leaves (parameters, inputs to check).
    public var requiresGrad: Bool
    /// The accumulated gradient [same shape] after ``backward()``, for tensors that require it.
    public var grad: Tensor?
    /// The operation that produced this tensor, when it was recorded.
    var gradientNode: GradientNode?
    /// Called by backward on a leaf after the last contribution of a pass to its ``grad``: once
    /// per backward pass that reaches the leaf, nested passes included (the recomputation of a
    /// ``checkpointed(_:shared:along:sliceLength:keeping:_:)`` region runs one per slice). PyTorch's
    /// `register_post_accumulate_grad_hook`; the gradient reducer counts these calls to know when
    /// a parameter's gradient is final for the iteration.
    public var gradientAccumulatedHook: ((Tensor) -> Void)?

    /// Wraps `storage` with `shape`.
    init(shape: [Int], storage: TensorStorage, requiresGrad: Bool = false) {
        precondition(shape.allSatisfy { $0 >= 0 }, "negative dimension in shape \(shape)")
        precondition(shape.reduce(1, *) == storage.count, "shape \(shape) does not match \(storage.count) elements")
        self.shape = shape
        self.storage = storage
        self.requiresGrad = requiresGrad
    }

    /// Uninitialised tensor of `shape`; kernels must write every element.
    public convenience init(uninitializedShape shape: [Int]) {
        self.init(shape: shape, storage: TensorStorage(count: shape.reduce(1, *)))
    }

    /// Tensor of `shape` filled with `value`.
    public convenience init(repeating value: Float, shape: [Int], requiresGrad: Bool = false) {
        self.init(uninitializedShape: shape)
        let pointer = storage.pointer
        Parallel.forEach(count, grain: 1 << 16) { range in
            (pointer + range.lowerBound).initialize(repeating: value, count: range.count)
        }
        self.requiresGrad = requiresGrad
    }

    /// Tensor of `shape` holding `scalars` (row-major).
    public convenience init(_ scalars: [Float], shape: [Int], requiresGrad: Bool = false) {
        precondition(scalars.count == shape.reduce(1, *),
                     "Tensor: \(scalars.count) values cannot have shape \(shape)")
        self.init(uninitializedShape: shape)
        scalars.withUnsafeBufferPointer { storage.pointer.update(from: $0.baseAddress!, count: scalars.count) }
        self.requiresGrad = requiresGrad
    }

    /// A scalar (shape `[]`).
    public convenience init(scalar: Float, requiresGrad: Bool = false) {
        self.init([scalar], shape: [], requiresGrad: requiresGrad)
    }

    /// A tensor that shares `base`'s memory from `offset` (e.g. a parameter inside a flat buffer).
    public convenience init(window base: Tensor, offset: Int, shape: [Int]) {
        self.init(shape: shape, storage: TensorStorage(window: base.storage, offset: offset, count: shape.reduce(1, *)))
    }

    /// A tensor over `shape.product` floats at `pointer` that `owner` allocated and keeps valid for
    /// as long as it lives (this tensor keeps `owner` alive). Nothing is copied or freed.
    public convenience init(borrowing pointer: UnsafeMutablePointer<Float>, shape: [Int], owner: AnyObject) {
        self.init(shape: shape, storage: TensorStorage(borrowing: pointer, count: shape.reduce(1, *), owner: owner))
    }

    /// Copies the values into `flat` at `offset` and makes this tensor a window of it from then
    /// on (the flat parameter/gradient buffers of the optimiser and the gradient reducer).
    public func rebind(to flat: Tensor, offset: Int) {
        let window = TensorStorage(window: flat.storage, offset: offset, count: count)
        window.pointer.update(from: pointer, count: count)
        storage = window
    }

    /// Number of elements.
    @inlinable public var count: Int { storage.count }
    /// Number of dimensions.
    public var rank: Int { shape.count }
    /// Pointer to the first element (row-major).
    @inlinable public var pointer: UnsafeMutablePointer<Float> { storage.pointer }

    /// A copy of the elements (row-major).
    public var scalars: [Float] { Array(UnsafeBufferPointer(start: pointer, count: count)) }

    /// The value of a one-element tensor.
    public var item: Float {
        precondition(count == 1, "item: tensor of shape \(shape) has \(count) elements")
        return pointer[0]
    }

    /// A tensor with the same values that records no history.
    public func detached() -> Tensor { Tensor(shape: shape, storage: storage) }

    /// `dim` counted from the end when negative, checked against the rank.
    public func axis(_ dim: Int, op: String) -> Int {
        let axis = dim < 0 ? dim + rank : dim
        guard axis >= 0 && axis < Swift.max(rank, 1) else {
            fatalError("\(op): dimension \(dim) is out of range for shape \(shape)")
        }
        return axis
    }

    public var description: String {
        let preview = scalars.prefix(8).map { String($0) }.joined(separator: ", ")
        return "Tensor(shape: \(shape), [\(preview)\(count > 8 ? ", …" : "")])"
    }
}

/// Row-major strides of `shape`.
@usableFromInline
func contiguousStrides(_ shape: [Int]) -> [Int] {
    var strides = [Int](repeating: 1, count: shape.count)
    var running = 1
    for index in stride(from: shape.count - 1, through: 0, by: -1) {
        strides[index] = running
        running *= shape[index]
    }
    return strides
}
