package dev.ekko;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.lang.management.ManagementFactory;
import java.nio.file.Path;
import java.time.Duration;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * A warmed-up real-time {@code next(long[])} into the caller's array allocates nothing: 0 bytes over many calls, counted
 * with the calling thread's allocated bytes (an allocation count, not a timing). The batches are those of the MultiGet
 * allocation target whose calls wait for the clock (ekko-bench's MultiGetBenchmark, 1,024 and 10,000 IDs).
 *
 * <p>Warm: the JVM's one-time costs on the calling thread are over before the count. The last of them is the JIT's first
 * C2 compile of the code Ekko runs once per new millisecond: before queueing a C2 compile, HotSpot resolves every string
 * constant of the method's class and loads the classes of its signature on the thread whose call crossed the threshold
 * (about 4 KB once per JVM on JDK 17: {@code Term}'s and {@code StateFile}'s messages, the JDK's
 * {@code ScopedMemoryAccess$Scope}). In real time that code runs 1,000 times a second, so C2 reaches it about 5 s in; a
 * bounded-lead generator runs the same code at CPU speed, so the warm-up takes it past C2's thresholds many times over in
 * a fraction of a second. The real-time generator's own calls then warm what only real time runs (waiting for the next
 * millisecond), and the count follows.
 */
class MultiGetAllocationTest {

    /** IDs issued by the bounded-lead warm-up: about 195,000 milliseconds, each a new-millisecond claim (C2 needs 5,000). */
    private static final long LEAD_WARMUP_IDS = 200_000_000;
    /** Real-time IDs before the count: about a second of issuing. */
    private static final long REAL_TIME_WARMUP_IDS = 1_024_000;
    /** Real-time IDs counted: about two seconds of issuing, 2,000 calls of 1,024 or 200 of 10,000. */
    private static final long COUNTED_IDS = 2_048_000;

    @TempDir
    Path leadState;

    @TempDir
    Path realTimeState;

    /** Their own host lock directory, so worker IDs do not contend with other tests or test runs on this host. */
    @TempDir
    Path hostLocks;

    @ParameterizedTest
    @ValueSource(ints = {1024, 10_000})
    void aWarmedUpRealTimeBatchIntoTheCallersArrayAllocatesNothing(int batch) {
        long[] ids = new long[batch];
        try (IdGenerator lead = Ekko.newBuilder().stateDirectory(leadState).hostLockDirectory(hostLocks).workerId(1)
                .maxLead(Duration.ofHours(1)).build()) {
            Calls.allocatedBy(lead, ids, (int) (LEAD_WARMUP_IDS / batch));
        }
        try (IdGenerator realTime = Ekko.newBuilder().stateDirectory(realTimeState).hostLockDirectory(hostLocks).workerId(2)
                .build()) {
            Calls.allocatedBy(realTime, ids, (int) (REAL_TIME_WARMUP_IDS / batch));
            long before = ids[batch - 1];
            int calls = (int) (COUNTED_IDS / batch);

            long allocated = Calls.allocatedBy(realTime, ids, calls);

            assertEquals(0, allocated, calls + " warmed-up real-time calls of next(long[" + batch + "]) allocated " + allocated
                    + " bytes on the calling thread");
            assertTrue(ids[0] > before && ids[batch - 1] > ids[0], "the counted calls issued IDs");
        }
    }

    /**
     * The counted loop, in a class with no string constant of its own: the first C2 compile of a method resolves its
     * class's string constants on the thread that runs it (see the class comment), and this loop runs under the count.
     */
    private static final class Calls {

        private static final com.sun.management.ThreadMXBean THREADS =
                (com.sun.management.ThreadMXBean) ManagementFactory.getThreadMXBean();

        /** {@return the bytes this thread allocated during {@code calls} calls of {@code next(ids)}} */
        static long allocatedBy(IdGenerator g, long[] ids, int calls) {
            long before = THREADS.getCurrentThreadAllocatedBytes();
            for (int i = 0; i < calls; i++) {
                g.next(ids);
            }
            return THREADS.getCurrentThreadAllocatedBytes() - before;
        }
    }
}
