// Built into every target (scripts/fuzz.sh).
import Foundation

/// The process's peak resident memory so far, in MiB.
func peakResidentMiB() -> Int {
    var usage = rusage()
    getrusage(RUSAGE_SELF.rawValue, &usage)
    return usage.ru_maxrss / 1024   // KiB on Linux
}

/// Runs one input and traps if it raised the process's peak memory by more than `limitMiB`
/// (no input of a campaign's size has a reason to). libFuzzer's -rss_limit_mb samples once
/// a second and misses a short spike, in a replay above all.
func withBoundedMemory(limitMiB: Int = 1024, _ body: () -> Void) {
    let before = peakResidentMiB()
    body()
    let grown = peakResidentMiB() - before
    precondition(grown <= limitMiB, "one input raised the peak memory by \(grown) MiB")
}
