/// A backward pass that broke the gradient reducer's readiness contract: every iteration must
/// report each parameter's gradient as often, and in the same order on every rank, as the first
/// iteration did (PyTorch DDP's `static_graph`). The reducer learns that pattern from the first
/// iteration and starts a bucket's all-reduce as soon as its parameters reach their counts, so a
/// gradient that arrives later would be missing from the sum.
public enum GradientReadinessError: Error, CustomStringConvertible, Equatable {
    /// `parameter` got a gradient again after it was final for the iteration (`reports` passes
    /// reached it; the first iteration had `expected`, 0 for parameters it found unused).
    case reportedAfterFinal(parameter: String, reports: Int, expected: Int, iteration: Int)
    /// These parameters had fewer gradient passes than in the first iteration when backward ended
    /// (`count` in all; the first names are listed).
    case neverFinal(parameters: [String], count: Int, iteration: Int)
    /// The ranks' first iterations reported gradients differently; `ranks` are those that differ
    /// from rank 0.
    case ranksDisagree(ranks: [Int])

    public var description: String {
        let contract = "the reducer needs the same backward graph in every iteration and on every rank (as DDP's static_graph)"
        switch self {
        case let .reportedAfterFinal(parameter, reports, expected, iteration):
            if expected == 0 {
                return "gradient reducer, iteration \(iteration): parameter '\(parameter)' received a gradient, but none in the first iteration, which made it an unused parameter; \(contract)"
            }
            return "gradient reducer, iteration \(iteration): parameter '\(parameter)' received a gradient in \(reports) backward passes, \(expected) in the first iteration; its bucket may already be summed; \(contract)"
        case let .neverFinal(parameters, count, iteration):
            let listed = parameters.map { "'\($0)'" }.joined(separator: ", ")
            let more = count > parameters.count ? " and \(count - parameters.count) more" : ""
            return "gradient reducer, iteration \(iteration): backward ended before the gradients of \(listed)\(more) were final (fewer backward passes reached them than in the first iteration); \(contract)"
        case let .ranksDisagree(ranks):
            return "gradient reducer: in the first iteration, rank(s) \(ranks.map(String.init).joined(separator: ", ")) reported gradients in different numbers than rank 0; \(contract)"
        }
    }
}
