/// Shape arithmetic of NumPy/PyTorch broadcasting.
@usableFromInline
enum Broadcasting {
    /// The broadcast shape of `a` and `b`, or a fatal error naming `op` and both shapes.
    @usableFromInline static func shape(_ a: [Int], _ b: [Int], op: String) -> [Int] {
        let rank = max(a.count, b.count)
        var result = [Int](repeating: 1, count: rank)
        for i in 0..<rank {
            let x = i < rank - a.count ? 1 : a[i - (rank - a.count)]
            let y = i < rank - b.count ? 1 : b[i - (rank - b.count)]
            guard x == y || x == 1 || y == 1 else {
                fatalError("\(op): shapes \(a) and \(b) cannot be broadcast together")
            }
            result[i] = x == 1 ? y : x
        }
        return result
    }

    /// Strides for reading `shape` as if it had `target` (right-aligned; 0 along broadcast dims).
    @usableFromInline static func strides(of shape: [Int], broadcastTo target: [Int]) -> [Int] {
        let own = contiguousStrides(shape)
        let offset = target.count - shape.count
        return (0..<target.count).map { i in
            i < offset || shape[i - offset] == 1 ? 0 : own[i - offset]
        }
    }

    /// Merges adjacent dimensions of `shape` that every operand walks contiguously in the same
    /// way, so loops run over fewer, longer dimensions. Returns the collapsed shape and strides.
    @usableFromInline static func collapse(_ shape: [Int], _ operandStrides: [[Int]]) -> (shape: [Int], strides: [[Int]]) {
        var dims: [Int] = []
        var strides: [[Int]] = operandStrides.map { _ in [] }
        for i in 0..<shape.count where shape[i] != 1 {
            if let last = dims.last,
               operandStrides.indices.allSatisfy({ strides[$0].last! == operandStrides[$0][i] * shape[i] }) {
                dims[dims.count - 1] = last * shape[i]
                for k in operandStrides.indices { strides[k][strides[k].count - 1] = operandStrides[k][i] }
            } else {
                dims.append(shape[i])
                for k in operandStrides.indices { strides[k].append(operandStrides[k][i]) }
            }
        }
        if dims.isEmpty { return ([1], operandStrides.map { _ in [0] }) }
        return (dims, strides)
    }
}
