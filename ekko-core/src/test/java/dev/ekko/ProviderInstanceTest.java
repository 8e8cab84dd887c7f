package dev.ekko;

import static org.junit.jupiter.api.Assertions.assertEquals;

import dev.ekko.spi.AllocatorContext;
import dev.ekko.spi.ClockReport;
import dev.ekko.spi.Handover;
import dev.ekko.spi.WorkerAllocator;
import dev.ekko.spi.WorkerAllocatorProvider;
import dev.ekko.spi.WorkerLease;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Set;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * An application hands in an allocator provider of its own (a back end built on its DataSource or client), which
 * {@link java.util.ServiceLoader} does not know: {@code Ekko.Builder#allocatorProvider(WorkerAllocatorProvider)}.
 */
class ProviderInstanceTest {

    @TempDir
    Path dir;

    /** Hands out one fixed worker ID whose lease never expires; remembers the context it was created with. */
    static final class Fixed implements WorkerAllocatorProvider {
        final AtomicReference<AllocatorContext> context = new AtomicReference<>();

        @Override
        public String name() {
            return "fixed-in-app";
        }

        @Override
        public String artifact() {
            return "the application itself";
        }

        @Override
        public Set<String> configKeys() {
            return Set.of("ekko.fixed.worker");
        }

        @Override
        public WorkerAllocator create(AllocatorContext c) {
            context.set(c);
            int worker = Integer.parseInt(c.setting("ekko.fixed.worker").orElse("5"));
            return new WorkerAllocator() {
                @Override
                public WorkerLease acquire() {
                    return new WorkerLease(worker, "t", Duration.ZERO, c.clock().nanos(), Handover.stateFile(), WorkerLease.UNKNOWN_TIME, null);
                }

                @Override
                public WorkerLease renew(WorkerLease lease, ClockReport report) {
                    return lease.renewed(c.clock().nanos(), WorkerLease.UNKNOWN_TIME);
                }

                @Override
                public void release(WorkerLease lease, ClockReport finalReport) {
                }

                @Override
                public void close() {
                }
            };
        }
    }

    @Test
    void anApplicationsOwnProviderInstanceIsUsedWithItsSettings() {
        Fixed provider = new Fixed();
        try (IdGenerator g = Ekko.newBuilder().stateDirectory(dir).hostLockDirectory(dir.resolve("locks")).allocatorProvider(provider)
                .setting("ekko.fixed.worker", "17").build()) {
            assertEquals(17, g.workerId());
            assertEquals(17, g.layout().decode(g.next()).worker());
        }
        assertEquals("17", provider.context.get().setting("ekko.fixed.worker").orElseThrow());
    }
}
