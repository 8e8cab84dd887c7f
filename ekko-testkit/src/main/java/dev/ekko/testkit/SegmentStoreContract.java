package dev.ekko.testkit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.ekko.SegmentExhaustedException;
import dev.ekko.spi.Segment;
import dev.ekko.spi.SegmentStore;
import dev.ekko.spi.SegmentStoreProvider;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.UUID;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * The contract every segment store must meet, run by each store module against its own real server. Extend it, implement
 * {@link #provider()}, {@link #settings()} and {@link #deleteName(String)}.
 *
 * <p>What it pins: a defined name starts at its start; ranges never overlap, from one store or from many at once (each store
 * instance stands for a process); a store hands out only its residue class; the floor lifts the counter; the maximum is a
 * {@link SegmentExhaustedException} and the last range is cut at it; unknown and lost names are refused, never restarted;
 * a name is defined once (its start and maximum cannot change silently).
 */
public abstract class SegmentStoreContract {

    /** For subclasses. */
    protected SegmentStoreContract() {
    }

    private final List<SegmentStore> opened = new ArrayList<>();

    /** {@return the provider under test} */
    protected abstract SegmentStoreProvider provider();

    /** {@return the store's settings: endpoint, and a namespace of this test class's own} */
    protected abstract Map<String, String> settings();

    /**
     * {@return the settings of a second store for the two-store tests: the same server in another namespace of this class's
     * own (a second server would do too)}
     */
    protected abstract Map<String, String> otherStoreSettings();

    /**
     * Deletes what the store keeps for {@code name} (its row or key, every residue): the counter is lost.
     *
     * @param name the name
     * @throws Exception if the server refuses
     */
    protected abstract void deleteName(String name) throws Exception;

    /**
     * Creates a store closed after the test.
     *
     * @param delta stores per name
     * @param remainder this store's residue
     * @return the store
     */
    protected SegmentStore store(int delta, int remainder) {
        SegmentStore s = provider().create(settings(), delta, remainder);
        synchronized (opened) {
            opened.add(s);
        }
        return s;
    }

    /** {@return a name no other test uses} */
    protected static String name() {
        return "t-" + UUID.randomUUID().toString().substring(0, 12);
    }

    @AfterEach
    void closeStores() {
        synchronized (opened) {
            opened.forEach(SegmentStore::close);
        }
    }

    @Test
    void aDefinedNameStartsAtItsStartAndRangesFollowEachOther() throws Exception {
        SegmentStore s = store(1, 0);
        String name = name();
        s.define(name, 1000, Long.MAX_VALUE);
        Segment a = s.take(name, 100, -1);
        Segment b = s.take(name, 50, -1);
        assertEquals(new Segment(1000, 100, 1), a);
        assertEquals(new Segment(1100, 50, 1), b);
    }

    @Test
    void storesTakingAtOnceNeverGetOverlappingRanges() throws Exception {
        String name = name();
        store(1, 0).define(name, 0, Long.MAX_VALUE);
        int processes = 8;
        int each = 60;
        ExecutorService pool = Executors.newFixedThreadPool(processes);
        try {
            CountDownLatch go = new CountDownLatch(1);
            List<Future<List<Segment>>> futures = new ArrayList<>();
            for (int p = 0; p < processes; p++) {
                SegmentStore s = store(1, 0);
                futures.add(pool.submit(() -> {
                    go.await();
                    List<Segment> got = new ArrayList<>();
                    for (int i = 0; i < each; i++) {
                        got.add(s.take(name, 1 + (i % 7) * 10, -1));
                    }
                    return got;
                }));
            }
            go.countDown();
            Set<Long> numbers = new HashSet<>();
            for (Future<List<Segment>> f : futures) {
                for (Segment seg : f.get()) {
                    for (long k = 0; k < seg.count(); k++) {
                        long n = seg.first() + k * seg.stride();
                        assertTrue(numbers.add(n), "number " + n + " handed out twice");
                    }
                }
            }
        } finally {
            pool.shutdownNow();
        }
    }

    private SegmentStore otherStore(int delta, int remainder) {
        SegmentStore s = provider().create(otherStoreSettings(), delta, remainder);
        synchronized (opened) {
            opened.add(s);
        }
        return s;
    }

    @Test
    void twoStoresHandOutTheirResidueClassesOnly() throws Exception {
        String name = name();
        SegmentStore even = store(2, 0);
        SegmentStore odd = otherStore(2, 1);
        even.define(name, 5, Long.MAX_VALUE);
        odd.define(name, 5, Long.MAX_VALUE);
        Set<Long> numbers = new HashSet<>();
        for (int i = 0; i < 10; i++) {
            for (SegmentStore s : List.of(even, odd)) {
                Segment seg = s.take(name, 13, -1);
                assertEquals(2, seg.stride());
                for (long k = 0; k < seg.count(); k++) {
                    long n = seg.first() + k * seg.stride();
                    assertEquals(s == even ? 0 : 1, n % 2, "store " + (s == even ? "even" : "odd") + " handed out " + n);
                    assertTrue(n >= 5);
                    assertTrue(numbers.add(n), "number " + n + " handed out twice");
                }
            }
        }
    }

    @Test
    void theFloorLiftsTheCounter() throws Exception {
        SegmentStore s = store(3, 1);
        String name = name();
        s.define(name, 0, Long.MAX_VALUE);
        assertEquals(new Segment(1, 4, 3), s.take(name, 4, -1)); // 1 4 7 10
        Segment lifted = s.take(name, 2, 1000);
        assertEquals(new Segment(1003, 2, 3), lifted); // the first of residue 1 above 1000
        assertEquals(1009, s.take(name, 1, 5).first(), "a lower floor changes nothing");
    }

    @Test
    void theMaximumCutsTheLastRangeThenIsATypedError() throws Exception {
        SegmentStore s = store(1, 0);
        String name = name();
        s.define(name, 10, 24);
        assertEquals(new Segment(10, 10, 1), s.take(name, 10, -1));
        assertEquals(new Segment(20, 5, 1), s.take(name, 10, -1));
        SegmentExhaustedException e = assertThrows(SegmentExhaustedException.class, () -> s.take(name, 10, -1));
        assertTrue(e.getMessage().contains("\"" + name + "\"") && e.getMessage().contains("24"), e.getMessage());
    }

    @Test
    void anUnknownNameIsRefused() {
        SegmentStore s = store(1, 0);
        String name = name();
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> s.take(name, 10, -1));
        assertTrue(e.getMessage().contains("\"" + name + "\""), e.getMessage());
    }

    @Test
    void aNameWhoseCounterWasLostIsRefusedNeverStartedAgain() throws Exception {
        SegmentStore s = store(1, 0);
        String name = name();
        s.define(name, 0, Long.MAX_VALUE);
        s.take(name, 100, -1);
        deleteName(name);
        assertThrows(IllegalArgumentException.class, () -> s.take(name, 10, -1), "a lost counter must be refused");
    }

    @Test
    void aDefinedNameKeepsItsCounterAndRefusesOtherLimits() throws Exception {
        SegmentStore s = store(1, 0);
        String name = name();
        s.define(name, 0, 1_000_000);
        s.take(name, 100, -1);
        s.define(name, 0, 1_000_000);
        assertEquals(100, s.take(name, 1, -1).first(), "defining again reset the counter");
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> s.define(name, 0, 5));
        assertTrue(e.getMessage().contains("\"" + name + "\""), e.getMessage());
    }

    @Test
    void aProcessListingTheStoresInAnotherOrderIsRefused() throws Exception {
        // Process A lists [here, other], process B [other, here]: here serves residue 0 for A and would serve 1 for B.
        String name = name();
        store(2, 0).define(name, 0, Long.MAX_VALUE);
        otherStore(2, 1).define(name, 0, Long.MAX_VALUE);
        SegmentStore bHere = store(2, 1);
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> bHere.define(name, 0, Long.MAX_VALUE));
        assertTrue(e.getMessage().contains("remainder"), e.getMessage());
        assertThrows(IllegalArgumentException.class, () -> bHere.take(name, 10, -1), "a take with another remainder is refused too");
    }

    @Test
    void aStoreOfAnotherDeltaIsRefused() throws Exception {
        String name = name();
        store(2, 0).define(name, 0, Long.MAX_VALUE);
        SegmentStore other = store(3, 0);
        assertThrows(IllegalArgumentException.class, () -> {
            other.define(name, 0, Long.MAX_VALUE);
            other.take(name, 1, -1);
        });
    }
}
