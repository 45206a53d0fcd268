import Foundation
import IO
import Testing
import Tensor
import TestSupport

/// One case of Fixtures/ops.safetensors, described by the metadata the fixture script wrote.
struct OpCase: Decodable, CustomTestStringConvertible, Sendable {
    let name: String
    let op: String
    let args: [String: ArgumentValue]
    let inputs: [String]
    let grads: [String]
    var testDescription: String { name }
}

/// A JSON argument: a number, a bool, or a (nested) list of numbers.
enum ArgumentValue: Decodable, Sendable {
    case number(Double), bool(Bool), list([ArgumentValue])

    init(from decoder: Decoder) throws {
        let container = try decoder.singleValueContainer()
        if let value = try? container.decode(Bool.self) { self = .bool(value) }
        else if let value = try? container.decode(Double.self) { self = .number(value) }
        else { self = .list(try container.decode([ArgumentValue].self)) }
    }

    var int: Int { if case .number(let v) = self { return Int(v) }; fatalError("not a number: \(self)") }
    var float: Float { if case .number(let v) = self { return Float(v) }; fatalError("not a number: \(self)") }
    var bool: Bool { if case .bool(let v) = self { return v }; fatalError("not a bool: \(self)") }
    var ints: [Int] { if case .list(let v) = self { return v.map(\.int) }; fatalError("not a list: \(self)") }
    var pairs: [(Int, Int)] { if case .list(let v) = self { return v.map { ($0.ints[0], $0.ints[1]) } }; fatalError("not a list") }
}

enum OpsFixture {
    static let contents: Safetensors.Contents = {
        let url = Bundle.module.url(forResource: "ops", withExtension: "safetensors", subdirectory: "Fixtures")!
        return try! Safetensors.read(path: url.path)
    }()

    static let cases: [OpCase] = {
        let json = Data(contents.metadata["cases"]!.utf8)
        return try! JSONDecoder().decode([OpCase].self, from: json)
    }()
}

/// Runs the Swift op that corresponds to `c` on `x` (inputs by name).
func runOp(_ c: OpCase, _ x: [String: Tensor]) -> Tensor {
    let a = c.args
    switch c.op {
    case "add": return x["a"]! + x["b"]!
    case "sub": return x["a"]! - x["b"]!
    case "mul": return x["a"]! * x["b"]!
    case "div": return x["a"]! / x["b"]!
    case "exp": return x["x"]!.exp()
    case "log": return x["x"]!.log()
    case "sqrt": return x["x"]!.sqrt()
    case "rsqrt": return x["x"]!.rsqrt()
    case "pow": return x["x"]!.pow(a["p"]!.float)
    case "clamp": return x["x"]!.clamp(min: a["min"]!.float, max: a["max"]!.float)
    case "sigmoid": return x["x"]!.sigmoid()
    case "relu": return x["x"]!.relu()
    case "gelu": return x["x"]!.gelu()
    case "quick_gelu": return x["x"]!.quickGelu()
    case "elu_plus_one": return x["x"]!.eluPlusOne()
    case "sum": return x["x"]!.sum(axes: a["axes"]!.ints, keepDims: a["keep"]!.bool)
    case "mean": return x["x"]!.mean(axes: a["axes"]!.ints, keepDims: a["keep"]!.bool)
    case "max": return x["x"]!.max(axis: a["axis"]!.int)
    case "softmax": return x["x"]!.softmax(dim: a["dim"]!.int)
    case "log_softmax": return x["x"]!.logSoftmax(dim: a["dim"]!.int)
    case "l2_normalize": return x["x"]!.l2Normalized(dim: a["dim"]!.int)
    case "permute": return x["x"]!.permuted(a["order"]!.ints)
    case "narrow": return x["x"]!.narrowed(a["dim"]!.int, start: a["start"]!.int, length: a["length"]!.int)
    case "concat": return Tensor.concat([x["a"]!, x["b"]!], along: a["dim"]!.int)
    case "pad": return x["x"]!.padded(a["padding"]!.pairs, value: a["value"]!.float)
    case "roll":
        let shifts = a["shifts"]!.ints, dims = a["dims"]!.ints
        return zip(shifts, dims).reduce(x["x"]!) { $0.rolled($1.0, along: $1.1) }
    case "repeat":
        let times = a["times"]!.ints
        let t = x["x"]!
        return t.reshaped([Int](repeating: 1, count: times.count - t.rank) + t.shape).repeated(times)
    case "gather":
        let index = x["index"]!
        return x["x"]!.gather(a["dim"]!.int, indices: index.scalars.map { Int32($0) }, indexShape: index.shape)
    case "window_partition": return x["x"]!.windowPartition(size: a["size"]!.int)
    case "matmul": return Tensor.matmul(x["a"]!, x["b"]!)
    case "linear": return Tensor.linear(x["x"]!, weight: x["weight"]!, bias: x["bias"])
    case "attention":
        return Tensor.attention(query: x["q"]!, key: x["k"]!, value: x["v"]!, heads: a["heads"]!.int, mask: x["mask"])
    case "conv2d":
        let s = a["stride"]!.int, p = a["padding"]!.int, d = a["dilation"]!.int
        return Tensor.conv2d(x["x"]!, weight: x["weight"]!, bias: x["bias"], stride: (s, s), padding: (p, p),
                             dilation: (d, d), groups: a["groups"]!.int)
    case "conv_transpose2d":
        let s = a["stride"]!.int, p = a["padding"]!.int, op = a["output_padding"]!.int
        return Tensor.convTranspose2d(x["x"]!, weight: x["weight"]!, bias: x["bias"], stride: (s, s), padding: (p, p),
                                      outputPadding: (op, op), groups: a["groups"]!.int)
    case "avg_pool2d": return x["x"]!.avgPool2d(kernel: a["kernel"]!.int)
    case "bilinear":
        let size = a["size"]!.ints
        return x["x"]!.bilinearResized(to: (size[0], size[1]), alignCorners: a["align_corners"]!.bool)
    case "nearest": let size = a["size"]!.ints; return x["x"]!.nearestResized(to: (size[0], size[1]))
    case "bicubic": let size = a["size"]!.ints; return x["x"]!.bicubicResized(to: (size[0], size[1]))
    case "layer_norm": return x["x"]!.layerNorm(weight: x["weight"], bias: x["bias"], eps: a["eps"]!.float)
    case "group_norm":
        return x["x"]!.groupNorm(groups: a["groups"]!.int, weight: x["weight"], bias: x["bias"], eps: a["eps"]!.float)
    case "batch_norm_train": return x["x"]!.batchNormTraining(weight: x["weight"], bias: x["bias"], eps: a["eps"]!.float).output
    case "embedding": return Tensor.embedding(x["table"]!, x["indices"]!.scalars.map { Int($0) })
    case "bce_with_logits": return Tensor.binaryCrossEntropyWithLogits(x["x"]!, targets: x["target"]!)
    case "cross_entropy": return Tensor.crossEntropy(x["x"]!, targets: x["target"]!.scalars.map { Int32($0) })
    case "mse": return Tensor.meanSquaredError(x["a"]!, x["b"]!)
    default: fatalError("no Swift op for fixture op \(c.op)")
    }
}

@Suite struct OpsParityTests {
    @Test func fixtureCoversTheOps() {
        #expect(OpsFixture.cases.count >= 60)
    }

    @Test(arguments: OpsFixture.cases)
    func matchesPyTorch(_ c: OpCase) {
        let tensors = OpsFixture.contents.tensors
        var inputs: [String: Tensor] = [:]
        for name in c.inputs {
            let stored = tensors["\(c.name)/in/\(name)"]!
            let copy = Tensor(stored.scalars, shape: stored.shape)
            copy.requiresGrad = c.grads.contains(name)
            inputs[name] = copy
        }
        let output = runOp(c, inputs)
        let expected = tensors["\(c.name)/out"]!
        #expect(output.shape == expected.shape, "\(c.name): output shape \(output.shape) vs PyTorch \(expected.shape)")
        guard output.shape == expected.shape else { return }
        // Long reductions (softmax rows of 1000, 577-row products) get the looser bound.
        let long = ["softmax", "log_softmax", "linear", "sum", "mean"].contains(c.op) || c.name.hasPrefix("conv")
        let tolerance = long ? Tolerance(absolute: 1e-4, relative: 1e-4) : Tolerance(absolute: 1e-5, relative: 1e-5)
        let forward = tolerance.worstExcess(output, expected)
        #expect(forward.excess <= 0, "\(c.name): output element \(forward.index) is \(output.pointer[max(forward.index, 0)]), PyTorch \(expected.pointer[max(forward.index, 0)])")

        (output * tensors["\(c.name)/w"]!).sum().backward()
        for name in c.grads {
            let reference = tensors["\(c.name)/grad/\(name)"]!
            guard let grad = inputs[name]!.grad else {
                Issue.record("\(c.name): no gradient for \(name)")
                continue
            }
            let backward = tolerance.worstExcess(grad, reference)
            #expect(backward.excess <= 0, "\(c.name): grad \(name) element \(backward.index) is \(grad.pointer[max(backward.index, 0)]), PyTorch \(reference.pointer[max(backward.index, 0)])")
        }
    }
}
