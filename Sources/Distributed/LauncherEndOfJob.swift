import CMPIShim
import Foundation

/// Tells a rank at once that Open MPI's launcher has started ending the job.
///
/// When `mpirun` (or the `orted` daemon of a node) is itself sent SIGTERM or SIGINT — by a
/// scheduler that signals every process of a job, by Ctrl-C, by `kill` — it does not forward the
/// signal: it sends each rank SIGCONT, waits `odls_base_sigkill_timeout` seconds, sends SIGTERM,
/// waits as long again and sends SIGKILL. A rank that waited for the SIGTERM would lose half of that
/// grace time; this watch records the SIGCONT, so training can checkpoint at the next iteration
/// boundary instead. A SIGCONT from anyone else (job control, Slurm's suspend/resume) is ignored.
public enum LauncherEndOfJob {
    /// Launchers whose SIGCONT means "the job is ending".
    static let launcherNames: Set = ["mpirun", "mpiexec", "orterun", "orted"]

    /// Starts watching when this process's parent is an Open MPI launcher; returns whether it does.
    @discardableResult
    public static func watch() -> Bool {
        let parent = getppid()
        guard let name = try? String(contentsOfFile: "/proc/\(parent)/comm", encoding: .utf8),
              launcherNames.contains(name.trimmingCharacters(in: .whitespacesAndNewlines)) else { return false }
        return fga_launcher_watch_install(parent) == 0
    }

    /// True once the launcher has sent its end-of-job SIGCONT.
    public static var started: Bool { fga_launcher_ending_job() != 0 }
}
