import CLISupport
import Foundation
import Tensor

/// Every `log_period` iterations (and at the last and a stopping one), rank 0 reports the means
/// over the window since the previous report: a log line, a `metrics.jsonl` row and TensorBoard
/// scalars with the losses, learning rate, seconds per iteration split into phases, the share of
/// time spent waiting for data and the peak live tensor memory (detectron2's `PeriodicWriter`
/// with its printer, JSON and TensorBoard writers).
public final class PeriodicWriter: TrainingHook {
    private let period: Int
    private let metricsLog: MetricsLog?
    private let events: TensorBoardWriter?
    private let log: (String) -> Void
    private var windowStart = Date()
    private var iterations = 0
    private var losses = StepLosses()
    private var phases = PhaseSeconds()
    private var dataWait = 0.0

    /// `metricsLog` and `events` are nil on the ranks that do not write.
    public init(period: Int, metricsLog: MetricsLog?, events: TensorBoardWriter?, log: @escaping (String) -> Void) {
        (self.period, self.metricsLog, self.events, self.log) = (period, metricsLog, events, log)
    }

    public func beforeTraining(_ trainer: Trainer) throws { startWindow() }

    public func afterIteration(_ record: IterationRecord, trainer: Trainer) throws {
        iterations += 1
        losses = losses + record.losses
        phases = phases + record.phases
        dataWait += record.dataWaitSeconds
        guard record.iteration % period == 0 || record.isLast || record.stopping else { return }
        defer { startWindow() }
        guard trainer.world.isMain else { return }
        let elapsed = Date().timeIntervalSince(windowStart)
        let seconds = elapsed / Double(iterations), wait = dataWait / max(elapsed, 1e-9)
        let (mean, perIteration) = (losses / Double(iterations), phases / Double(iterations))
        let peakGB = Double(CachingAllocator.shared.peakLiveBytes) / 1e9
        let maxIterations = trainer.configuration.solver.maxIter
        let eta = formatDuration(seconds * Double(maxIterations - record.iteration)) as NSString
        log(String(format: "iter %d/%d  loss %.4f (seg %.4f  t2p %.4f)  lr %.3e  %.3f s/it (fwd+bwd %.3f  comm %.3f  optim %.3f)  data %.1f%%  peak %.2f GB  ETA %@",
                   record.iteration, maxIterations, mean.total, mean.segmentation, mean.textToPixel, record.learningRate, seconds,
                   perIteration.compute, perIteration.communication, perIteration.optimizer, 100 * wait, peakGB, eta))
        try metricsLog?.write(["iteration": record.iteration, "loss": mean.total, "loss_seg": mean.segmentation, "loss_t2p": mean.textToPixel,
                               "lr": record.learningRate, "seconds_per_iteration": seconds, "data_wait": wait,
                               "seconds_compute": perIteration.compute, "seconds_communication": perIteration.communication,
                               "seconds_optimizer": perIteration.optimizer, "peak_tensor_gb": peakGB,
                               "skipped_steps": trainer.skippedSteps])
        events?.add(scalars: [("loss/total", mean.total), ("loss/segmentation", mean.segmentation), ("loss/t2p", mean.textToPixel),
                              ("lr", record.learningRate), ("time/seconds_per_iteration", seconds),
                              ("time/compute", perIteration.compute), ("time/communication", perIteration.communication),
                              ("time/optimizer", perIteration.optimizer), ("memory/peak_tensor_gb", peakGB)], step: record.iteration)
    }

    private func startWindow() {
        (windowStart, iterations, losses, phases, dataWait) = (Date(), 0, StepLosses(), PhaseSeconds(), 0)
        CachingAllocator.shared.resetPeak()
    }
}
