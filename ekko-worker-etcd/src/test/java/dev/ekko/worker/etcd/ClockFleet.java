package dev.ekko.worker.etcd;

import static org.junit.jupiter.api.Assertions.fail;

import dev.ekko.ClockSkewException;
import dev.ekko.Ekko;
import dev.ekko.IdGenerator;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.function.Supplier;

/**
 * Generators of one test on etcd with fast timings (FastGenerators, a 2 s etcd timeout), for the clock-check reviews: it
 * builds them, closes everything it was given in reverse order, and checks across all of them that no ID is issued twice.
 */
final class ClockFleet implements AutoCloseable {

    private final Path dir;
    private final List<AutoCloseable> open = new ArrayList<>();
    private final Set<Long> issued = new HashSet<>();

    /** State directories go under {@code dir}, one per instance. */
    ClockFleet(Path dir) {
        this.dir = dir;
    }

    Ekko.Builder builder(String endpoints, String namespace, String instance) {
        return FastGenerators.builder(endpoints, namespace, dir.resolve(instance), instance).setting("ekko.etcd.timeout", "2s");
    }

    Ekko.Builder builder(String namespace, String instance) {
        return builder(SharedEtcd.endpoints(), namespace, instance);
    }

    <T extends AutoCloseable> T keep(T c) {
        synchronized (open) {
            open.add(c);
        }
        return c;
    }

    /** Builds the generators in parallel (each new worker ID waits out a no-history floor) and takes one ID of each. */
    @SafeVarargs
    final List<IdGenerator> startAll(Supplier<IdGenerator>... builds) {
        List<CompletableFuture<IdGenerator>> started = new ArrayList<>();
        for (Supplier<IdGenerator> b : builds) {
            started.add(CompletableFuture.supplyAsync(() -> {
                IdGenerator g = b.get();
                synchronized (open) {
                    open.add(g);
                }
                g.next();
                return g;
            }));
        }
        return started.stream().map(CompletableFuture::join).toList();
    }

    /** {@return each stripe's clock skew against its reference, and how far its issue limit is ahead of the clock} */
    static String clocks(IdGenerator g) {
        List<String> out = new ArrayList<>();
        for (dev.ekko.GeneratorStatus st : g.stripeStatuses()) {
            out.add("worker " + st.workerId() + ": skew " + st.clockSkew().map(d -> d.toMillis() + " ms").orElse("none")
                    + ", limit " + st.issueLimit().map(l -> (l.toEpochMilli() - System.currentTimeMillis()) + " ms ahead")
                            .orElse("none"));
        }
        return String.join("; ", out);
    }

    /** Takes an ID and checks it was never issued before, by any generator of the test. */
    long take(IdGenerator g) {
        long id = g.next();
        if (!issued.add(id)) {
            fail("ID " + id + " was issued twice");
        }
        return id;
    }

    /**
     * Asks every generator for IDs for {@code millis}: the correct ones must never fail; the others (outliers, bystanders) are
     * asked too, their exceptions counted, not thrown. {@return for each of the others, whether it was stopped: it threw
     * ClockSkewException, or none of its issue limits moved in the last 1.5 s (a renewal every 300 ms raises a permitted
     * one; a clock set back far enough may not reach the frozen limit within the run)}
     */
    List<Boolean> run(long millis, List<IdGenerator> correct, List<IdGenerator> others, String what) throws Exception {
        List<Boolean> stopped = new ArrayList<>();
        others.forEach(o -> stopped.add(false));
        long start = System.nanoTime();
        long deadline = start + TimeUnit.MILLISECONDS.toNanos(millis);
        long frozenFrom = deadline - TimeUnit.MILLISECONDS.toNanos(1500);
        List<List<Object>> limitsThen = null;
        while (System.nanoTime() < deadline) {
            if (limitsThen == null && System.nanoTime() >= frozenFrom && frozenFrom > start) {
                limitsThen = others.stream().map(ClockFleet::limits).toList();
            }
            for (int i = 0; i < others.size(); i++) {
                try {
                    take(others.get(i));
                } catch (ClockSkewException e) {
                    stopped.set(i, true);
                } catch (RuntimeException e) {
                    // ClockMovedBackwardsException while a clock set back waits out its step; a bystander's own trouble
                }
            }
            for (int i = 0; i < correct.size(); i++) {
                try {
                    take(correct.get(i));
                } catch (RuntimeException e) {
                    fail("correct generator #" + i + " was stopped after " + (System.nanoTime() - start) / 1_000_000 + " ms ("
                            + what + "): " + e + "; " + clocks(correct.get(i)), e);
                }
            }
            Thread.sleep(5);
        }
        for (int i = 0; limitsThen != null && i < others.size(); i++) {
            if (limits(others.get(i)).equals(limitsThen.get(i))) {
                stopped.set(i, true);
            }
        }
        return stopped;
    }

    /** {@return each stripe's issue limit} */
    static List<Object> limits(IdGenerator g) {
        return g.stripeStatuses().stream().map(st -> (Object) st.issueLimit()).toList();
    }

    /** Closes everything kept, newest first (best effort). */
    @Override
    public void close() {
        synchronized (open) {
            for (int i = open.size() - 1; i >= 0; i--) {
                try {
                    open.get(i).close();
                } catch (Exception e) {
                    // best effort
                }
            }
            open.clear();
        }
    }
}
