import Foundation

/// The loss values of one iteration.
public struct StepLosses: Sendable, Equatable {
    public var segmentation = 0.0
    public var textToPixel = 0.0
    public var total = 0.0

    public init(segmentation: Double = 0, textToPixel: Double = 0, total: Double = 0) {
        (self.segmentation, self.textToPixel, self.total) = (segmentation, textToPixel, total)
    }

    public static func + (a: Self, b: Self) -> Self {
        Self(segmentation: a.segmentation + b.segmentation, textToPixel: a.textToPixel + b.textToPixel, total: a.total + b.total)
    }

    public static func / (a: Self, divisor: Double) -> Self {
        Self(segmentation: a.segmentation / divisor, textToPixel: a.textToPixel / divisor, total: a.total / divisor)
    }
}

/// Wall-clock seconds of the phases of an iteration: forward + backward (waits for data
/// included), the gradient and loss all-reduces, and clipping + AdamW.
public struct PhaseSeconds: Sendable, Equatable {
    public var compute = 0.0
    public var communication = 0.0
    public var optimizer = 0.0

    public init(compute: Double = 0, communication: Double = 0, optimizer: Double = 0) {
        (self.compute, self.communication, self.optimizer) = (compute, communication, optimizer)
    }

    public static func + (a: Self, b: Self) -> Self {
        Self(compute: a.compute + b.compute, communication: a.communication + b.communication, optimizer: a.optimizer + b.optimizer)
    }

    public static func / (a: Self, divisor: Double) -> Self {
        Self(compute: a.compute / divisor, communication: a.communication / divisor, optimizer: a.optimizer / divisor)
    }
}

/// What one finished iteration hands to the hooks; the same on every rank.
public struct IterationRecord: Sendable {
    /// Iterations completed, this one included.
    public var iteration: Int
    /// The losses averaged over the ranks (and the micro-batches of gradient accumulation).
    public var losses: StepLosses
    /// The learning rate the step used (before the group multipliers).
    public var learningRate: Double
    /// This rank's phase times.
    public var phases: PhaseSeconds
    /// Seconds this rank waited for the loader during the iteration (part of `phases.compute`).
    public var dataWaitSeconds: Double
    /// Whether a rank asked to stop: the loop ends after the hooks ran.
    public var stopping: Bool
    /// Whether this was the last iteration of the schedule (`solver.max_iter`).
    public var isLast: Bool
}

/// Work the training loop runs around its iterations (detectron2's `HookBase`): writers,
/// evaluation, checkpoints, replica checks. ``Trainer/run()`` calls every hook in order, on every
/// rank; a hook that communicates must do so on all ranks alike.
public protocol TrainingHook: AnyObject {
    /// Before the first iteration of this process.
    func beforeTraining(_ trainer: Trainer) throws
    /// After every iteration, including a skipped step and the one that stops.
    func afterIteration(_ record: IterationRecord, trainer: Trainer) throws
}

extension TrainingHook {
    public func beforeTraining(_ trainer: Trainer) throws {}
}
