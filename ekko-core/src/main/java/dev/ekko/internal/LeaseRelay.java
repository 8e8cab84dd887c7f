package dev.ekko.internal;

import dev.ekko.spi.LeaseListener;
import dev.ekko.spi.WorkerLease;

/**
 * The {@link LeaseListener} the core puts in an allocator's context: it exists before the generator (the context is built
 * first), and passes every call to the generator once {@link EkkoGenerator#start} attached it, which happens before the
 * first acquire, so no call can come earlier.
 */
public final class LeaseRelay implements LeaseListener {

    private volatile EkkoGenerator target;

    void attach(EkkoGenerator generator) {
        this.target = generator;
    }

    @Override
    public void leaseLost(WorkerLease lease, String reason) {
        EkkoGenerator g = target;
        if (g != null) {
            g.leaseLost(lease, reason);
        }
    }

    @Override
    public String toString() {
        return "LeaseRelay";
    }
}
