package dev.ekko.internal;

import dev.ekko.spi.WorkerAllocator;
import dev.ekko.spi.WorkerAllocatorProvider;
import dev.ekko.testkit.WorkerAllocatorContract;
import java.util.Map;

/** The allocator contract, for host-local: leases are OS file locks, history is the state file. */
class HostLocalAllocatorContractTest extends WorkerAllocatorContract {

    @Override
    protected WorkerAllocatorProvider provider() {
        return new HostLocalAllocator.Provider();
    }

    @Override
    protected Map<String, String> settings() {
        return Map.of("ekko.host.lock.dir", stateDir.resolve("locks").toString());
    }

    @Override
    protected boolean leasesExpire() {
        return false;
    }

    @Override
    protected boolean sharesStateDirectoryAcrossHolders() {
        return true;
    }

    /** Closing the allocator drops its OS locks, as the death of the process does. */
    @Override
    protected void simulateDeath(WorkerAllocator allocator) {
        allocator.close();
    }
}
