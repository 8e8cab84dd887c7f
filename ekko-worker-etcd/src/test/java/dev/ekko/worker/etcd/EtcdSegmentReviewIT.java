package dev.ekko.worker.etcd;

import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.ekko.Ekko;
import dev.ekko.SegmentGenerator;
import dev.ekko.SegmentIds;
import dev.ekko.testsupport.TestServers;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import java.util.UUID;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/** Adversarial review of segment mode against etcd: a finding (fails as reviewed). */
class EtcdSegmentReviewIT {

    private static final String CLASS_PREFIX = TestServers.etcdKeyPrefix(EtcdSegmentReviewIT.class);

    private final String tag = UUID.randomUUID().toString().substring(0, 8);
    private final List<SegmentIds> opened = new ArrayList<>();

    @AfterEach
    void closeAll() {
        opened.forEach(SegmentIds::close);
    }

    @AfterAll
    static void deleteThisClassesKeys() {
        SharedEtcd.deleteKeys(CLASS_PREFIX);
    }

    private SegmentIds open(String... namespaces) {
        SegmentIds.Builder b = Ekko.newSegmentBuilder().setting("ekko.segment.step.min", "10").setting("ekko.segment.step.max", "10");
        for (String ns : namespaces) {
            b.store(new EtcdSegmentStore.Provider(), Map.of("ekko.etcd.endpoints", SharedEtcd.endpoints(), "ekko.etcd.namespace", ns));
        }
        SegmentIds s = b.build();
        opened.add(s);
        return s;
    }

    /**
     * FINDING (repeat): the key holds the remainder (segment/name/remainder), so a process listing the two stores in the
     * other order creates its own keys at both and hands out the first process's numbers again (SegmentIds' Javadoc: a
     * store "refuses a process that differs"). Two namespaces on one etcd stand for two clusters.
     */
    @Test
    void aProcessListingTheStoresInAnotherOrderIsRefusedNotGivenTheSameNumbers() {
        String x = CLASS_PREFIX + "x-" + tag;
        String y = CLASS_PREFIX + "y-" + tag;
        SegmentIds a = open(x, y);
        a.define("order", 0, Long.MAX_VALUE);
        SegmentGenerator ga = a.generator("order");
        Set<Long> fromA = new TreeSet<>();
        for (int i = 0; i < 30; i++) {
            fromA.add(ga.next());
        }
        Set<Long> fromB = new TreeSet<>();
        try {
            SegmentIds b = open(y, x);
            b.define("order", 0, Long.MAX_VALUE);
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
}
