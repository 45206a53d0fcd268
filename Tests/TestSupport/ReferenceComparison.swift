import NN
import Tensor

/// Runs a module on a case of a reference fixture and lists every difference from the reference.
///
/// The fixture holds, under `<case>/`: `param/<name>` (weights), `in/<name>` (inputs), `out`,
/// `w` (weights of the loss Σ out·w), `grad/in/<name>` and `grad/param/<name>`. The module gets
/// the reference weights; its output, the input gradients and every parameter gradient are
/// compared with `tolerance`. Returns one line per failure (empty when everything matches).
public func compareWithReference(_ module: Module, forward: ([String: Tensor]) -> Tensor, fixture: [String: Tensor],
                                 case name: String, inputs: [String], tolerance: Tolerance) -> [String] {
    var failures: [String] = []
    let prefix = "\(name)/param/"
    let parameters = module.namedParameters()
    let referenceNames = Set(fixture.keys.filter { $0.hasPrefix(prefix) }.map { String($0.dropFirst(prefix.count)) })
    let names = Set(parameters.map(\.name))
    if names != referenceNames {
        failures.append("parameter names differ: \(names.symmetricDifference(referenceNames).sorted())")
    }
    failures += module.loadReferenceParameters(fixture, prefix: prefix)
    var values: [String: Tensor] = [:]
    for input in inputs {
        guard let stored = fixture["\(name)/in/\(input)"] else { return failures + ["no input \(input)"] }
        values[input] = Tensor(stored.scalars, shape: stored.shape, requiresGrad: true)
    }
    let output = forward(values)
    guard let expected = fixture["\(name)/out"], let weights = fixture["\(name)/w"], output.shape == expected.shape else {
        return failures + ["output shape \(output.shape) differs from the reference"]
    }
    func check(_ what: String, _ actual: Tensor, _ reference: Tensor?) {
        guard let reference else { failures.append("no reference for \(what)"); return }
        let (excess, index) = tolerance.worstExcess(actual, reference)
        if excess > 0 {
            failures.append("\(what): element \(index) is \(actual.pointer[index]), reference \(reference.pointer[index])")
        }
    }
    check("output", output, expected)
    (output * weights).sum().backward()
    for input in inputs {
        check("gradient of input \(input)", values[input]!.grad ?? Tensor(repeating: 0, shape: values[input]!.shape),
              fixture["\(name)/grad/in/\(input)"])
    }
    for (parameter, tensor) in parameters {
        check("gradient of \(parameter)", tensor.grad ?? Tensor(repeating: 0, shape: tensor.shape), fixture["\(name)/grad/param/\(parameter)"])
    }
    return failures
}
