import NN
import Tensor

extension Module {
    /// Copies `tensors[prefix + name]` into every parameter whose dotted name satisfies `include`;
    /// returns a description of each missing or differently sized reference (empty when all fit).
    @discardableResult
    public func loadReferenceParameters(_ tensors: [String: Tensor], prefix: String,
                                        where include: (String) -> Bool = { _ in true }) -> [String] {
        var problems: [String] = []
        for (name, tensor) in namedParameters() where include(name) {
            guard let value = tensors[prefix + name] else { problems.append("no reference for \(name)"); continue }
            guard value.count == tensor.count else {
                problems.append("\(name): reference \(value.shape), model \(tensor.shape)")
                continue
            }
            tensor.pointer.update(from: value.pointer, count: tensor.count)
        }
        return problems
    }
}
