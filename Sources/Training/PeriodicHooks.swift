import Distributed
import Foundation

/// Every `distributed.verify_every` iterations, checks that all ranks hold identical weights
/// (``Replicas/verify(_:communicator:step:)``).
public final class ReplicaCheck: TrainingHook {
    private let period: Int

    public init(period: Int) { self.period = period }

    public func afterIteration(_ record: IterationRecord, trainer: Trainer) throws {
        guard period > 0 && record.iteration % period == 0 else { return }
        try trainer.watchdog.guarding("replica check", step: record.iteration) {
            try Replicas.verify(trainer.model, communicator: trainer.world, step: record.iteration)
        }
    }
}

/// Every `test.eval_period` iterations and at the last one (not at a stopping one), evaluates
/// through ``Trainer/evaluate(events:metricsLog:)`` (detectron2's `EvalHook`).
public final class PeriodicEvaluation: TrainingHook {
    private let period: Int
    private let metricsLog: MetricsLog?
    private let events: TensorBoardWriter?
    /// The metrics of the latest evaluation of this run.
    public private(set) var latest: SegmentationMetrics?

    /// `period` 0: never. `metricsLog` and `events` are nil on the ranks that do not write.
    public init(period: Int, metricsLog: MetricsLog?, events: TensorBoardWriter?) {
        (self.period, self.metricsLog, self.events) = (period, metricsLog, events)
    }

    public func afterIteration(_ record: IterationRecord, trainer: Trainer) throws {
        guard period > 0 && (record.iteration % period == 0 || record.isLast) && !record.stopping else { return }
        latest = try trainer.evaluate(events: events, metricsLog: metricsLog)
    }
}

/// Every `checkpoint.period` iterations, at the last one and at a stopping one, writes a
/// checkpoint (detectron2's `PeriodicCheckpointer`; ``Trainer/saveCheckpoint()``).
public final class PeriodicCheckpointer: TrainingHook {
    private let period: Int

    public init(period: Int) { self.period = period }

    public func afterIteration(_ record: IterationRecord, trainer: Trainer) throws {
        guard record.stopping || record.iteration % period == 0 || record.isLast else { return }
        try trainer.saveCheckpoint()
    }
}
