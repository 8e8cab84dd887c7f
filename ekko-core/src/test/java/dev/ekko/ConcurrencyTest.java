package dev.ekko;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;
import org.junit.jupiter.api.io.TempDir;

/** Threads hammering Get and MultiGet: no duplicate, and each thread sees its IDs increase. */
class ConcurrencyTest {

    @TempDir
    Path stateDir;

    /** Its own host lock directory, so worker IDs do not contend with other tests or test runs on this host. */
    @TempDir
    Path hostLocks;

    private static final int THREADS = 4;
    private static final int PER_THREAD = 150_000;

    @ParameterizedTest(name = "lead={0}ms")
    @ValueSource(longs = {0, 100})
    void threadsMixingGetAndMultiGetNeverShareAnIdAndEachSeesItsIdsIncrease(long leadMillis) throws Exception {
        try (IdGenerator g = Ekko.newBuilder().stateDirectory(stateDir).hostLockDirectory(hostLocks).workerId(1).maxLead(Duration.ofMillis(leadMillis)).build()) {
            ExecutorService pool = Executors.newFixedThreadPool(THREADS);
            CountDownLatch go = new CountDownLatch(1);
            List<Future<long[]>> results = new ArrayList<>();
            for (int t = 0; t < THREADS; t++) {
                int mode = t % 3;
                results.add(pool.submit(() -> {
                    long[] ids = new long[PER_THREAD];
                    go.await();
                    int i = 0;
                    while (i < PER_THREAD) {
                        if (mode == 0) {
                            ids[i++] = g.next();
                        } else if (mode == 1) {
                            int n = Math.min(PER_THREAD - i, 1 + (i % 3000));
                            g.next(ids, i, n);
                            i += n;
                        } else {
                            IdRange r = g.nextRange(Math.min(PER_THREAD - i, 100));
                            for (int j = 0; j < r.count(); j++) {
                                ids[i++] = r.get(j);
                            }
                        }
                    }
                    return ids;
                }));
            }
            go.countDown();
            long[] all = new long[THREADS * PER_THREAD];
            int k = 0;
            for (Future<long[]> f : results) {
                long[] ids = f.get();
                for (int i = 1; i < ids.length; i++) {
                    assertTrue(Layout.compare(ids[i - 1], ids[i]) < 0, "thread's IDs not increasing at " + i);
                }
                System.arraycopy(ids, 0, all, k, ids.length);
                k += ids.length;
            }
            pool.shutdown();
            Arrays.sort(all);
            for (int i = 1; i < all.length; i++) {
                assertTrue(all[i - 1] != all[i], "duplicate ID " + Long.toUnsignedString(all[i]));
            }
            assertEquals(THREADS * PER_THREAD, all.length);
            for (long id : new long[] {all[0], all[all.length - 1]}) {
                assertEquals(1, g.layout().decode(id).worker());
            }
        }
    }
}
