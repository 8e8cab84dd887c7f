package dev.ekko.chaos;

import java.util.EnumSet;
import java.util.Set;

/** The faults a chaos run injects, each with the longest a process may then go without issuing (its recovery bound). */
enum Fault {
    /** SIGKILL, then a restart with the same instance name. */
    KILL_RESTART("SIGKILL, restart (same instance)", 20),
    /** SIGKILL, then a restart under a new instance name. */
    KILL_RESTART_NEW("SIGKILL, restart (new instance)", 20),
    /** SIGSTOP for longer than the lease TTL while an intruder prefers its worker ID, then SIGCONT. */
    PAUSE("SIGSTOP > TTL, worker ID taken, SIGCONT", 20),
    /** SIGSTOP with the monotonic clock held still, so that only the wall clock moved: a suspended laptop or VM. */
    SUSPEND("suspend (wall clock jumps, monotonic not)", 20),
    /** The host's wall clock stepped back, then forward again. */
    CLOCK_BACK("wall clock step back", 20),
    /** The host's wall clock stepped forward, then back again. */
    CLOCK_FORWARD("wall clock step forward", 20),
    /** SIGKILL, the host's clock stepped back, a restart, the clock set right later. */
    CLOCK_BACK_RESTART("clock step back across a restart", 25),
    /** A second process on the same host asking for a worker ID already held there. */
    SECOND_PROCESS("second process, same worker ID, same host", 20),
    /** The same, through a symlink to the host's state directory. */
    SECOND_PROCESS_SYMLINK("second process via symlinked state dir", 20),
    /** The coordinator stopped (SIGTERM), then started with its data. */
    COORDINATOR_STOP("coordinator stopped and started", 25),
    /** The coordinator killed (SIGKILL) and restarted at once with its data. */
    COORDINATOR_KILL("coordinator killed, restarted with data", 25),
    /** The coordinator restarted without its data. */
    COORDINATOR_WIPE("coordinator emptied (restart without data)", 25),
    /** The coordinator's data replaced by an older backup while holders are live. */
    COORDINATOR_RESTORE("coordinator restored from an older backup", 25);

    static final Set<Fault> COORDINATOR = EnumSet.of(COORDINATOR_STOP, COORDINATOR_KILL, COORDINATOR_WIPE, COORDINATOR_RESTORE);

    final String label;
    final int boundSeconds;

    Fault(String label, int boundSeconds) {
        this.label = label;
        this.boundSeconds = boundSeconds;
    }
}
