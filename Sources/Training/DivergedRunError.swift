/// Training stopped because more than `solver.max_nonfinite_steps` steps had a non-finite loss
/// on some rank (each such step is skipped: no parameter or optimiser change).
public struct DivergedRunError: Error, CustomStringConvertible, Sendable, Equatable {
    /// Steps skipped so far, the one that stopped the run included.
    public var skippedSteps: Int
    /// `solver.max_nonfinite_steps`.
    public var limit: Int

    public var description: String {
        "\(skippedSteps) steps with a non-finite loss (solver.max_nonfinite_steps = \(limit)); lower the learning rate or check the data and weights, then resume from the last checkpoint"
    }
}
