package dev.ekko.worker.etcd;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.ekko.spi.Segment;
import dev.ekko.spi.SegmentStore;
import dev.ekko.testsupport.TestServers;
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
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * Many processes taking ranges of one name at once: etcd has no atomic add, so a take is a compare-and-put on the key's
 * revision, and a take that loses the race tries again. Every take must succeed however many others race it (CI once saw
 * a take give up after 32 lost races with 8 takers; with 16, the old bound failed at once), and no number may be handed out twice.
 */
class EtcdSegmentContentionIT {

    private static final String CLASS_PREFIX = TestServers.etcdKeyPrefix(EtcdSegmentContentionIT.class);

    private final String namespace = CLASS_PREFIX + UUID.randomUUID().toString().substring(0, 8);
    private final List<SegmentStore> opened = new ArrayList<>();

    @AfterEach
    void closeAll() {
        opened.forEach(SegmentStore::close);
    }

    @AfterAll
    static void deleteThisClassesKeys() {
        SharedEtcd.deleteKeys(CLASS_PREFIX);
    }

    private SegmentStore store() {
        SegmentStore s = new EtcdSegmentStore.Provider().create(
                Map.of("ekko.etcd.endpoints", SharedEtcd.endpoints(), "ekko.etcd.namespace", namespace), 1, 0);
        opened.add(s);
        return s;
    }

    @Test
    void sixteenTakersRacingOnOneNameAllSucceedAndNeverOverlap() throws Exception {
        String name = "hot";
        store().define(name, 0, Long.MAX_VALUE);
        int takers = 16;
        int each = 60;
        ExecutorService pool = Executors.newFixedThreadPool(takers);
        try {
            CountDownLatch go = new CountDownLatch(1);
            List<Future<List<Segment>>> futures = new ArrayList<>();
            for (int t = 0; t < takers; t++) {
                SegmentStore s = store();
                futures.add(pool.submit(() -> {
                    go.await();
                    List<Segment> got = new ArrayList<>();
                    for (int i = 0; i < each; i++) {
                        got.add(s.take(name, 1, -1));
                    }
                    return got;
                }));
            }
            go.countDown();
            Set<Long> numbers = new HashSet<>();
            for (Future<List<Segment>> f : futures) {
                for (Segment seg : f.get()) {
                    assertTrue(numbers.add(seg.first()), "number " + seg.first() + " handed out twice");
                }
            }
            assertEquals(takers * each, numbers.size());
            assertEquals(takers * each - 1, numbers.stream().mapToLong(Long::longValue).max().orElseThrow(),
                    "the ranges taken are dense: none was lost between a read and its compare-and-put");
        } finally {
            pool.shutdownNow();
        }
    }
}
