package dev.ekko.worker.redis;

import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.ekko.Ekko;
import dev.ekko.SegmentExhaustedException;
import dev.ekko.SegmentGenerator;
import dev.ekko.SegmentIds;
import dev.ekko.testsupport.DisposableRedis;
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

/** Adversarial review of segment mode against a durable Redis: a finding (fails as reviewed) and a guard. */
class RedisSegmentReviewIT {

    private static DisposableRedis redis;

    private final String tag = UUID.randomUUID().toString().substring(0, 8);
    private final List<SegmentIds> opened = new ArrayList<>();

    @BeforeAll
    static void start() {
        redis = DisposableRedis.launch();
    }

    @AfterAll
    static void stop() {
        redis.close();
    }

    @AfterEach
    void closeAll() {
        opened.forEach(SegmentIds::close);
    }

    private SegmentIds open(String... namespaces) {
        SegmentIds.Builder b = Ekko.newSegmentBuilder().setting("ekko.segment.step.min", "10").setting("ekko.segment.step.max", "10");
        for (String ns : namespaces) {
            b.store(new RedisSegmentStore.Provider(), Map.of("ekko.redis.uri", redis.uri(), "ekko.redis.namespace", ns));
        }
        SegmentIds s = b.build();
        opened.add(s);
        return s;
    }

    /**
     * FINDING (repeat): the key holds the remainder (segment:{name}:remainder), so a process listing the two stores in the
     * other order creates its own keys at both and hands out the first process's numbers again, although SegmentIds'
     * Javadoc promises that a store "records its delta and remainder per name and refuses a process that differs". Two
     * namespaces on one server stand for two servers.
     */
    @Test
    void aProcessListingTheStoresInAnotherOrderIsRefusedNotGivenTheSameNumbers() {
        String x = "rvx-" + tag;
        String y = "rvy-" + tag;
        SegmentIds a = open(x, y);
        a.define("order", 0, 1_000_000);
        SegmentGenerator ga = a.generator("order");
        Set<Long> fromA = new TreeSet<>();
        for (int i = 0; i < 30; i++) {
            fromA.add(ga.next());
        }
        Set<Long> fromB = new TreeSet<>();
        try {
            SegmentIds b = open(y, x);
            b.define("order", 0, 1_000_000);
            SegmentGenerator gb = b.generator("order");
            for (int i = 0; i < 30; i++) {
                fromB.add(gb.next());
            }
        } catch (IllegalArgumentException refused) {
            return;
        }
        Set<Long> both = new TreeSet<>(fromA);
        both.retainAll(fromB);
        assertTrue(both.isEmpty(), "the stores listed in the other order were not refused and handed out the same numbers again: "
                + both);
    }

    /** Guard: a maximum above 2^53 stops below 2^53 with SegmentExhaustedException, every number once and exact. */
    @Test
    void guardTheLuaLimitEndsInExhaustedExactly() {
        SegmentIds s = open("rvl0-" + tag, "rvl1-" + tag);
        long start = (1L << 53) - 30;
        s.define("lua", start, Long.MAX_VALUE);
        SegmentGenerator g = s.generator("lua");
        Set<Long> seen = new HashSet<>();
        long last = -1;
        SegmentExhaustedException end = null;
        for (int i = 0; i < 100 && end == null; i++) {
            try {
                long n = g.next();
                assertTrue(n >= start && n < (1L << 53) && n > last, n + " after " + last);
                assertTrue(seen.add(n));
                last = n;
            } catch (SegmentExhaustedException e) {
                end = e;
            }
        }
        assertTrue(end != null && seen.size() >= 10, "numbers " + seen + ", end " + end);
        assertThrows(SegmentExhaustedException.class, g::next);
    }
}
