package dev.ekko.internal;

import dev.ekko.IdGenerator;
import dev.ekko.IdRange;
import dev.ekko.Layout;

/** A generator's view for one product line: same worker ID, lease and state file; its own sequence. */
final class ProductView implements IdGenerator {

    private final EkkoGenerator owner;
    private final int product;

    ProductView(EkkoGenerator owner, int product) {
        this.owner = owner;
        this.product = product;
    }

    @Override
    public long next() {
        return owner.nextFor(product);
    }

    @Override
    public void next(long[] ids, int offset, int length) {
        owner.fill(product, ids, offset, length);
    }

    @Override
    public IdRange nextRange(int maxCount) {
        return owner.range(product, maxCount);
    }

    @Override
    public IdGenerator forProduct(int other) {
        return owner.forProduct(other);
    }

    @Override
    public Layout layout() {
        return owner.layout();
    }

    @Override
    public int idc() {
        return owner.idc();
    }

    @Override
    public int workerId() {
        return owner.workerId();
    }

    @Override
    public int product() {
        return product;
    }

    @Override
    public long leadMillis() {
        return owner.leadFor(product);
    }

    @Override
    public java.util.Optional<String> unavailableReason() {
        return owner.unavailableReason();
    }

    @Override
    public long next(java.time.Duration timeout) {
        return owner.nextFor(product, timeout);
    }

    @Override
    public dev.ekko.GeneratorStatus status() {
        return owner.statusFor(product);
    }

    /** A view closes nothing: the generator it came from owns the lease. */
    @Override
    public void close() {
        // the owner is closed by whoever built it
    }

    @Override
    public String toString() {
        return "IdGenerator{product=" + product + " of " + owner + "}";
    }
}
