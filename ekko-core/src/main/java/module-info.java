/**
 * Ekko: unique, roughly time-ordered 64-bit IDs generated in-process.
 * {@code dev.ekko} is the API ({@link dev.ekko.Ekko} is the entry point); {@code dev.ekko.spi} is for
 * worker-ID back ends.
 */
module dev.ekko.core {
    requires jdk.jfr;

    exports dev.ekko;
    exports dev.ekko.spi;

    uses dev.ekko.spi.WorkerAllocatorProvider;
    uses dev.ekko.spi.SegmentStoreProvider;

    provides dev.ekko.spi.WorkerAllocatorProvider with
            dev.ekko.internal.ManualAllocator.Provider,
            dev.ekko.internal.HostLocalAllocator.Provider;
}
