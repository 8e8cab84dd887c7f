package dev.ekko.spi;

/**
 * How an allocator tells the generator, at once and from any thread, that a lease it handed out is gone: for example a
 * watch on the coordinator saw the lease's key deleted or taken over, before the next renewal would have found out. The
 * generator stops issuing under that lease before this method returns, and acquires a worker ID again in the background.
 * The allocator's next {@link WorkerAllocator#renew renew} of that lease must throw {@link dev.ekko.LeaseLostException}.
 *
 * <p>An allocator gets the generator's listener from {@link AllocatorContext#leaseListener()}. Calls for a lease the
 * generator no longer holds (an earlier one) are ignored, so a late or repeated call is harmless.
 */
@FunctionalInterface
public interface LeaseListener {

    /** A listener that ignores every call: the default of {@link AllocatorContext.Builder#leaseListener}. */
    LeaseListener NONE = new LeaseListener() { // not a lambda: its class would be spun at a cold start
        @Override
        public void leaseLost(WorkerLease lease, String reason) {
        }
    };

    /**
     * Says that {@code lease} is gone. Returns quickly and never blocks on the coordinator.
     *
     * @param lease the lease, as the allocator handed it out (its worker ID and token identify it)
     * @param reason why, for the exception callers of {@code next()} get; never a secret
     */
    void leaseLost(WorkerLease lease, String reason);
}
