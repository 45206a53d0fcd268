import ArgumentParser
import CLISupport
import Distributed
import Foundation
import IO
import Inference
import Training

@main
struct Train: Tool {
    static let configuration = CommandConfiguration(
        commandName: "fgaseg-train",
        abstract: "Train FGAseg data-parallel: run one process per rank under mpirun or srun (or alone for one rank).",
        discussion: """
        Examples:
          mpirun -n 8 fgaseg-train --config Configs/fgaseg_vitb16_coco-stuff.yaml
          mpirun -n 2 fgaseg-train --config Configs/demo.yaml --set solver.max_iter=200
          mpirun -n 8 fgaseg-train --config Configs/fgaseg_vitb16_coco-stuff.yaml --resume

        Stopping: SIGTERM, SIGINT or SIGUSR1 to the ranks writes a checkpoint at the next iteration
        boundary and exits 0; --resume continues from it exactly. Under a bare mpirun, send SIGUSR1 to
        mpirun (it forwards USR1 to every rank). SIGTERM or SIGINT to mpirun also stops the ranks at
        the next boundary, but Open MPI kills them 2 × odls_base_sigkill_timeout seconds later (1 s by
        default): raise it (mpirun --mca odls_base_sigkill_timeout 150) when a step takes longer. The
        Launch/ scripts trap all three signals, forward USR1 and set that grace time (README,
        "Stopping, hangs and damaged files").
        """,
        version: BuildDescription.text)

    @Option(help: "YAML config (keys not given keep their defaults; see Configs/).")
    var config: String?

    @Option(name: .customLong("set"), help: "Override a config key, e.g. --set solver.max_iter=1000 (repeatable).")
    var overrides: [String] = []

    @Option(help: "Output folder (overrides output_dir).")
    var outputDir: String?

    @Flag(help: "Continue from the output folder's last_checkpoint, if there is one.")
    var resume = false

    @Option(help: "Continue from this checkpoint file.")
    var resumeFrom: String?

    @Flag(help: "Without --resume: delete a previous run's checkpoints, logs and evaluations in the output folder and start over (without --force, such a folder is an error).")
    var force = false

    @Option(help: "When the run ends cleanly (finished, or stopped by a signal after its checkpoint), rank 0 writes a JSON status here: state (finished/stopped), iteration, checkpoint, reason. Default: $FGASEG_STATUS_FILE, which the Launch/ scripts set and read.")
    var statusFile: String?

    func validate() throws {
        guard !(force && (resume || resumeFrom != nil)) else { throw ValidationError("--force starts a new run; it cannot be combined with --resume or --resume-from") }
    }

    func run() throws {
        let world = try makeWorldCommunicator()
        world.abortingOnError {
            var configuration = try ConfigurationLoader.load(path: config, overrides: overrides)
            if let outputDir { configuration.outputDir = outputDir }
            let budget = ThreadBudget.apply(configured: configuration.threads)
            if world.isMain {
                print("fgaseg-train: \(world.size) rank(s), \(budget.threads) thread(s) per rank (\(budget.source)), output \(configuration.outputDir)")
            }
            let trainer = try Trainer(configuration: configuration, world: world, resume: resume, resumeFrom: resumeFrom,
                                      previousRun: force ? .replace : .refuse)
            try trainer.run()
            if let statusFile = statusFile ?? ProcessInfo.processInfo.environment["FGASEG_STATUS_FILE"], world.isMain {
                var status: [String: Any] = ["state": trainer.stopReason == nil ? "finished" : "stopped", "iteration": trainer.iteration]
                status["checkpoint"] = Checkpoint.latest(in: configuration.outputDir)
                status["reason"] = trainer.stopReason
                try AtomicFile.write(Array(try JSONSerialization.data(withJSONObject: status, options: [.sortedKeys])) + [0x0A], to: statusFile)
            }
        }
        try world.finalize()
    }
}
