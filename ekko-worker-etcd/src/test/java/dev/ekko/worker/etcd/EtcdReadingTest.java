package dev.ekko.worker.etcd;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.ekko.spi.AllocatorContext;
import java.nio.charset.StandardCharsets;
import java.util.Collections;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * A clock-ring reading and a history name their generator, so that a striped generator's stripes are no reference for each
 * other and count once for other holders.
 */
class EtcdReadingTest {

    /** A generator holding k worker IDs is one vote, its newest reading; readings of an earlier version count per worker ID. */
    @Test
    void votesCountEachGeneratorOnceAndUnnamedReadingsPerWorkerId() {
        EtcdWorkerAllocator.Votes votes = new EtcdWorkerAllocator.Votes();
        votes.add("h/7/a1", 1, 1_000);
        votes.add("h/7/a1", 2, 1_005);
        votes.add("h/7/a1", 3, 1_002);
        votes.add("h/8/b2", 4, 2_000);
        votes.add(null, 5, 3_000);
        votes.add(null, 6, 3_001);
        votes.add(null, 5, 2_999);
        List<Long> readings = new java.util.ArrayList<>(votes.newest().values());
        Collections.sort(readings);
        assertEquals(List.of(1_005L, 2_000L, 3_000L, 3_001L), readings);
    }

    /** Every stripe's context of one build names the same generator; a context built without one names its own. */
    @Test
    void generatorNamesAreUniquePerGeneratorAndSharedByItsStripes() {
        String name = AllocatorContext.newGeneratorName("h", 7);
        assertTrue(name.startsWith("h/7/"), name);
        assertFalse(name.equals(AllocatorContext.newGeneratorName("h", 7)), "64 random bits tell two generators of one process apart");
        AllocatorContext stripe0 = AllocatorContext.builder().instance("a.stripe1").generator(name).build();
        AllocatorContext stripe1 = AllocatorContext.builder().instance("a.stripe1.stripe1").generator(name).build();
        assertEquals(stripe0.generator(), stripe1.generator());
        assertFalse(AllocatorContext.builder().instance("a").build().generator()
                .equals(AllocatorContext.builder().instance("a").build().generator()));
    }

    /** A history names the generator that wrote it; one of an earlier version names none, and is no one's own. */
    @Test
    void aHistoryRoundTripsItsWriter() {
        EtcdHistory h = new EtcdHistory(100, "c", "g", null, 99, "h/7/a1");
        assertEquals(h, EtcdHistory.decode(h.encode()));
        EtcdHistory old = EtcdHistory.decode("mark=100\ncluster=c\ngeneration=g\nwritten.at=99\n".getBytes(StandardCharsets.UTF_8));
        assertNull(old.writer());
        assertEquals(99, old.clockReading());
    }

    @Test
    void aReadingRoundTripsAndOneOfAnEarlierVersionNamesNoGenerator() {
        EtcdWorkerAllocator.Reading r = new EtcdWorkerAllocator.Reading(5, 42, 1_700_000_000_000L, "h/7/app");
        EtcdWorkerAllocator.Reading back = EtcdWorkerAllocator.Reading.decode(r.encode());
        assertEquals(r, back);
        assertTrue(back.writtenBy("h/7/app"));
        EtcdWorkerAllocator.Reading old = EtcdWorkerAllocator.Reading.decode(
                "worker=5\ntenure=42\nat=1700000000000\n".getBytes(StandardCharsets.UTF_8));
        assertEquals(5, old.worker());
        assertNull(old.generator());
        assertFalse(old.writtenBy("h/7/app"));
    }
}
