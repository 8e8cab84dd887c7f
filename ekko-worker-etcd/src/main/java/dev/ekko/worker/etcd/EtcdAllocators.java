package dev.ekko.worker.etcd;

import dev.ekko.EkkoException;
import dev.ekko.spi.AllocatorContext;
import java.util.Map;
import java.util.Objects;

/** Maintenance of the {@code etcd} back end's keys, for the command line and for applications. */
public final class EtcdAllocators {

    private EtcdAllocators() {
    }

    /**
     * Starts a new generation in the namespace of {@code ekko.etcd.endpoints} and {@code ekko.etcd.namespace} (with
     * {@code ekko.etcd.user}, {@code ekko.etcd.password}, {@code ekko.etcd.timeout}, {@code ekko.etcd.tls.ca}): the step to
     * take after the cluster was restored from a snapshot with its old cluster token (docs/etcd.md). Every mark written before
     * becomes a lower bound ({@code Handover.atLeast}), so each worker ID's next holder waits one lease TTL plus the tolerated
     * skew once; live holders carry on and label their marks with the new generation at their next renewal. Every claim and
     * renewal compares the generation in its own transaction, so none that succeeds after this returned trusts an older mark.
     *
     * @param settings the {@code ekko.etcd.*} settings, as for the allocator
     * @return one line for a person: the generation before, the new one, and what it means
     * @throws IllegalArgumentException naming the key and its value (never a password) if a setting is bad
     * @throws EkkoException if etcd cannot be reached or refuses
     * @throws InterruptedException if interrupted while waiting for etcd
     */
    public static String startNewGeneration(Map<String, String> settings) throws InterruptedException {
        Objects.requireNonNull(settings, "settings");
        AllocatorContext context = AllocatorContext.builder().settings(settings).instance("new-generation").build();
        try (EtcdWorkerAllocator allocator = (EtcdWorkerAllocator) new EtcdAllocatorProvider().create(context)) {
            String[] changed = allocator.startNewGeneration();
            return "started generation " + changed[1] + " at " + EtcdSettings.from(context).where() + " (was "
                    + (changed[0] == null ? "none" : changed[0]) + "): every mark of the namespace is a lower bound from now on, so each"
                    + " worker ID's next holder waits one lease TTL plus the tolerated skew once before issuing; live holders carry"
                    + " on, and write marks of the new generation at their next renewal";
        }
    }
}
