package dev.ekko.internal;

import java.util.concurrent.atomic.AtomicBoolean;

/**
 * Loads the classes of a start's later steps on a short-lived daemon thread while the caller works through its first
 * steps (settings, layout, allocator), so that on a machine with a second core their loading overlaps the caller's work
 * instead of adding to it. A cold start spends most of its time loading classes, in the class loader's Java code, which
 * runs interpreted at that point (StartupBenchmark); a peer that persists nothing needs a handful.
 *
 * <p>Only loads (a class literal resolves its class without initializing it), so no initializer of Ekko's runs on this
 * thread and no initialization order of Ekko's changes: the caller still links and initializes each class where it first
 * uses it, and finds it loaded, or waits for the load in progress (class loading is per class, so nothing is loaded twice).
 * One exception, first: it initializes the JDK's {@value #MAP_MODES}, whose initializer builds a method handle (a lambda
 * and several generated classes: about 8 ms of a cold JVM's first {@code FileChannel.map}, measured on JDK 17) and
 * touches nothing but the JDK's own classes, so it cannot wait on a lock the caller holds. Once per class loader of this
 * class: later starts find everything loaded. A failure here changes nothing, the caller loads what it needs itself.
 */
public final class ClassPreload implements Runnable {

    private static final AtomicBoolean STARTED = new AtomicBoolean();

    /**
     * The JDK class {@code FileChannel.map} initializes on its first call (JDK 17 and later; a JDK without it is skipped). Not
     * exported: {@code Class.forName} finds and initializes it all the same, and no member of it is used.
     */
    static final String MAP_MODES = "jdk.internal.misc.ExtendedMapMode";

    private ClassPreload() {
    }

    /** Starts the preload, once; later calls return at once. */
    public static void start() {
        if (STARTED.compareAndSet(false, true)) {
            try {
                Thread t = new Thread(new ClassPreload(), "ekko-class-preload");
                t.setDaemon(true);
                t.start();
            } catch (RuntimeException | Error e) {
                // no thread (a restricted environment): the caller loads what it needs
            }
        }
    }

    @Override
    public void run() {
        try {
            Class.forName(MAP_MODES, true, null);
        } catch (ClassNotFoundException | RuntimeException | LinkageError e) {
            // another JDK: its first map() does what it does
        }
        try {
            load();
        } catch (RuntimeException | LinkageError e) {
            // the caller loads what it needs, and reports what it cannot
        }
    }

    /**
     * The classes of the steps after the allocator is created, in the order a start first uses them: the generator, the
     * host-wide locks, the state file, the term and sequencer, and the JDK's file-channel, lock, mapping and executor
     * classes. Each literal is resolved in turn; the array is not used.
     */
    @SuppressWarnings("unused")
    private static void load() {
        Class<?>[] later = {
            EkkoGenerator.class, HostLocalAllocator.class, HostLocks.class, GeneratorSettings.class, GeneratorStats.class,
            dev.ekko.EkkoException.class, dev.ekko.WorkerIdsExhaustedException.class, dev.ekko.LeaseLostException.class,
            dev.ekko.GenerationInterruptedException.class, dev.ekko.StateFileException.class,
            dev.ekko.IdSpaceExhaustedException.class, dev.ekko.ClockMovedBackwardsException.class,
            dev.ekko.ClockSkewException.class, dev.ekko.CoordinatorUnavailableException.class,
            dev.ekko.GeneratorClosedException.class, Term.class, JvmFileLocks.class,
            dev.ekko.spi.WorkerLease.class, dev.ekko.spi.Handover.class, dev.ekko.spi.Handover.Kind.class, StateFile.class,
            Sequencer.class, dev.ekko.spi.ClockReport.class, Events.class,
            java.nio.channels.FileChannel.class, java.nio.channels.FileLock.class, java.nio.MappedByteBuffer.class,
            java.util.concurrent.ScheduledThreadPoolExecutor.class, java.util.concurrent.FutureTask.class,
        };
    }
}
