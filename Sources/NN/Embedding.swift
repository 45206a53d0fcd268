import Tensor

/// A lookup table: weight [count, dimension] (N(0, 1) init, as nn.Embedding).
public final class Embedding: Module {
    public let weight: Tensor

    public init(_ count: Int, _ dimension: Int, generator: inout RandomGenerator) {
        weight = Tensor.normal([count, dimension], using: &generator)
        super.init()
        parameter("weight", weight)
    }

    /// Rows `indices` → [indices.count, dimension].
    public func callAsFunction(_ indices: [Int]) -> Tensor { Tensor.embedding(weight, indices) }
}

/// Child modules named "0", "1", ... (PyTorch's nn.ModuleList).
public final class ModuleList<Element: Module>: Module {
    public let elements: [Element]

    public init(_ elements: [Element]) {
        self.elements = elements
        super.init()
        for (index, element) in elements.enumerated() { child(String(index), element) }
    }
}
