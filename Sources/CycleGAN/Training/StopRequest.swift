#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A request to stop training, from SIGINT (a user's Ctrl-C) or SIGTERM (a cluster's
/// preemption). The first signal only sets a flag: the trainer finishes the current step,
/// saves `latest` as a complete checkpoint set and stops. A second signal exits at once.
public enum StopRequest {
    /// The signal that asked training to stop, or 0.
    nonisolated(unsafe) private static var received: Int32 = 0

    /// The signal received since `install()`, if any.
    public static var pending: Int32? {
        let s = received
        return s == 0 ? nil : s
    }

    /// Installs the handlers of SIGINT and SIGTERM (the command does this; the library never
    /// installs process-wide handlers by itself).
    public static func install() {
        for sig in [SIGINT, SIGTERM] {
            _ = signal(sig) { s in
                // Async-signal-safe: a store, or _exit on the second signal.
                if StopRequest.received != 0 { _exit(128 + s) }
                StopRequest.received = s
            }
        }
    }

    /// "SIGINT" or "SIGTERM".
    public static func name(_ s: Int32) -> String { s == SIGINT ? "SIGINT" : s == SIGTERM ? "SIGTERM" : "signal \(s)" }
}
