package dev.ekko.worker.mysql;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.ekko.Ekko;
import dev.ekko.SegmentExhaustedException;
import dev.ekko.SegmentGenerator;
import dev.ekko.SegmentIds;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import java.util.UUID;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/** Adversarial review of segment mode against MariaDB: a finding (fails as reviewed) and guards. */
class MysqlSegmentReviewIT {

    private static SharedMysql db;

    private final String tag = UUID.randomUUID().toString().substring(0, 8);
    private final List<SegmentIds> opened = new ArrayList<>();

    @BeforeAll
    static void createDatabase() {
        db = SharedMysql.create(MysqlSegmentReviewIT.class);
    }

    @AfterAll
    static void dropDatabase() {
        db.close();
    }

    @AfterEach
    void closeAll() {
        opened.forEach(SegmentIds::close);
    }

    private SegmentIds open(String... namespaces) {
        SegmentIds.Builder b = Ekko.newSegmentBuilder().setting("ekko.segment.step.min", "10").setting("ekko.segment.step.max", "10");
        for (String ns : namespaces) {
            b.store(new MysqlSegmentStore.Provider(), db.settings(ns));
        }
        SegmentIds s = b.build();
        opened.add(s);
        return s;
    }

    /**
     * FINDING (repeat): SegmentIds' Javadoc says each store "records its delta and remainder per name and refuses a process
     * that differs", ARCHITECTURE invariant 9 says the residue is "recorded per name and compared at every take". But the
     * row's key includes the remainder: a process listing the same two stores in the other order defines new rows (its own
     * remainder) at both and hands out the same even numbers as the first process. Two namespaces on one server stand for
     * two databases.
     */
    @Test
    void aProcessListingTheStoresInAnotherOrderIsRefusedNotGivenTheSameNumbers() {
        String x = "rvx-" + tag;
        String y = "rvy-" + tag;
        SegmentIds a = open(x, y);
        a.define("order", 0, Long.MAX_VALUE);
        SegmentGenerator ga = a.generator("order");
        Set<Long> fromA = new TreeSet<>();
        for (int i = 0; i < 30; i++) {
            fromA.add(ga.next());
        }
        SegmentIds b = open(y, x); // misconfigured: the other order
        Set<Long> fromB = new TreeSet<>();
        try {
            b.define("order", 0, Long.MAX_VALUE);
            SegmentGenerator gb = b.generator("order");
            for (int i = 0; i < 30; i++) {
                fromB.add(gb.next());
            }
        } catch (IllegalArgumentException refused) {
            return; // what the docs promise
        }
        Set<Long> both = new TreeSet<>(fromA);
        both.retainAll(fromB);
        assertTrue(both.isEmpty(), "the stores listed in the other order were not refused and handed out the same numbers again: "
                + both + " (A: " + fromA + ", B: " + fromB + ")");
    }

    /** Guard: two stores, the maximum near Long.MAX_VALUE: every number once, increasing, then SegmentExhaustedException. */
    @Test
    void guardTwoStoresNearLongMaxEndInExhaustedWithoutRepeatOrWrap() {
        SegmentIds s = open("rvm0-" + tag, "rvm1-" + tag);
        s.define("big", Long.MAX_VALUE - 25, Long.MAX_VALUE);
        SegmentGenerator g = s.generator("big");
        Set<Long> seen = new HashSet<>();
        long last = -1;
        SegmentExhaustedException end = null;
        for (int i = 0; i < 100 && end == null; i++) {
            try {
                long n = g.next();
                assertTrue(n >= Long.MAX_VALUE - 25 && n > last, n + " after " + last);
                assertTrue(seen.add(n), n + " twice");
                last = n;
            } catch (SegmentExhaustedException e) {
                end = e;
            }
        }
        assertTrue(end != null, "never exhausted; got " + seen);
        assertTrue(seen.size() >= 10, "numbers: " + seen);
        assertThrows(SegmentExhaustedException.class, g::next);
    }

    /** Guard: a row deleted under a running generator: its buffered numbers, then refused (never restarted). */
    @Test
    void guardADeletedRowIsRefusedNeverRestarted() throws Exception {
        String ns = "rvd-" + tag;
        SegmentIds s = Ekko.newSegmentBuilder().setting("ekko.segment.step.min", "10").setting("ekko.segment.step.max", "10")
                .setting("ekko.segment.prefetch.at", "0.9").store(new MysqlSegmentStore.Provider(), db.settings(ns)).build();
        opened.add(s);
        s.define("gone", 100, Long.MAX_VALUE);
        SegmentGenerator g = s.generator("gone");
        db.execute("DELETE FROM ekko_worker_ids_segments WHERE namespace = '" + ns + "' AND name = 'gone'");
        long last = -1;
        int served = 0;
        IllegalArgumentException refused = null;
        for (int i = 0; i < 40 && refused == null; i++) {
            try {
                long n = g.next();
                assertTrue(n > last && n >= 100, n + " after " + last);
                last = n;
                served++;
            } catch (IllegalArgumentException e) {
                refused = e;
            }
        }
        assertTrue(refused != null && refused.getMessage().contains("unknown segment name \"gone\""), String.valueOf(refused));
        assertEquals(10, served, "the buffered range only");
        assertThrows(IllegalArgumentException.class, g::next);
    }
}
