import Distributed
import Inference

extension TrainingConfiguration.DistributedSection {
    /// The collective watchdog's timeout that `watchdog_seconds` asks for: fixed when positive,
    /// else 5 × the slowest step so far and at least 300 s.
    public var watchdogTimeout: CollectiveWatchdog.Timeout {
        watchdogSeconds > 0 ? .fixed(watchdogSeconds) : .scaled(minimum: 300, stepMultiple: 5)
    }
}
