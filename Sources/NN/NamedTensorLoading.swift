import Tensor

extension Module {
    /// Copies `tensors` into this module's parameters (and buffers, with `includeBuffers`) by
    /// dotted name, as a strict `load_state_dict`: returns one message per missing tensor, per
    /// shape that `shapesFit` rejects (such a tensor is left untouched) and per unexpected name not
    /// in `ignoring`. An empty result means everything was loaded.
    public func copyNamedTensors(_ tensors: [String: Tensor], includeBuffers: Bool, ignoring: Set<String> = [],
                                 shapesFit: ([Int], [Int]) -> Bool = { $0 == $1 }) -> [String] {
        let targets = namedParameters() + (includeBuffers ? namedBuffers() : [])
        var problems: [String] = []
        for (name, tensor) in targets {
            guard let stored = tensors[name] else { problems.append("missing \(name) \(tensor.shape)"); continue }
            guard shapesFit(stored.shape, tensor.shape) else {
                problems.append("\(name): checkpoint shape \(stored.shape), model expects \(tensor.shape)")
                continue
            }
            tensor.pointer.update(from: stored.pointer, count: tensor.count)
        }
        let known = Set(targets.map(\.name))
        for name in tensors.keys.sorted() where !known.contains(name) && !ignoring.contains(name) {
            problems.append("unexpected \(name) \(tensors[name]!.shape)")
        }
        return problems
    }
}
