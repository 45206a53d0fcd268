import ArgumentParser
import Distributed
import Foundation
import Training

@main
struct Train: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "fgaseg-train",
        abstract: "Train FGAseg data-parallel: run one process per rank under mpirun or srun (or alone for one rank).",
        discussion: """
        Examples:
          mpirun -n 8 fgaseg-train --config Configs/fgaseg_vitb16_coco-stuff.yaml
          mpirun -n 2 fgaseg-train --config Configs/demo.yaml --set solver.max_iter=200
          mpirun -n 8 fgaseg-train --config Configs/fgaseg_vitb16_coco-stuff.yaml --resume

        SIGTERM or SIGUSR1 (Slurm pre-emption; mpirun forwards USR1) writes a checkpoint at the next
        iteration boundary and exits 0; --resume continues from it exactly.
        """)

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

    func run() throws {
        let world = try makeWorldCommunicator()
        world.abortingOnError {
            var configuration = try ConfigurationLoader.load(path: config, overrides: overrides)
            if let outputDir { configuration.outputDir = outputDir }
            let threads = ThreadBudget.apply(configured: configuration.threads)
            if world.isMain { print("fgaseg-train: \(world.size) rank(s), \(threads) thread(s) per rank, output \(configuration.outputDir)") }
            let trainer = try Trainer(configuration: configuration, world: world, resume: resume, resumeFrom: resumeFrom)
            try trainer.run()
        }
        try world.finalize()
    }
}
