package dev.ekko.worker.etcd;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.charset.StandardCharsets;
import org.junit.jupiter.api.Test;

/** A clock-ring reading names its generator, so that a striped generator's stripes are no reference for each other. */
class EtcdReadingTest {

    @Test
    void stripesOfOneGeneratorShareItsNameAndOtherInstancesDoNot() {
        assertEquals("app", EtcdWorkerAllocator.stripeBase("app"));
        assertEquals("app", EtcdWorkerAllocator.stripeBase("app.stripe1"));
        assertEquals("app", EtcdWorkerAllocator.stripeBase("app.stripe63"));
        assertEquals("a.stripe1", EtcdWorkerAllocator.stripeBase("a.stripe1.stripe2"));
        for (String kept : new String[] {"app.stripe", "app.stripe0", "app.stripe01", "app.stripe1x", "app.stripes1", "stripe1"}) {
            assertEquals(kept, EtcdWorkerAllocator.stripeBase(kept), kept);
        }
        assertEquals(EtcdWorkerAllocator.generatorOf("h", 7, "app"), EtcdWorkerAllocator.generatorOf("h", 7, "app.stripe2"));
        assertFalse(EtcdWorkerAllocator.generatorOf("h", 7, "a").equals(EtcdWorkerAllocator.generatorOf("h", 7, "b")));
        assertFalse(EtcdWorkerAllocator.generatorOf("h", 7, "a").equals(EtcdWorkerAllocator.generatorOf("h", 8, "a")));
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
