package dev.ekko.worker.etcd;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.ekko.IdGenerator;
import dev.ekko.testsupport.TestServers;
import java.nio.file.Path;
import java.util.List;
import java.util.Set;
import java.util.TreeSet;
import java.util.stream.Collectors;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** {@code close()} stops every thread the etcd allocator started: jetcd's, gRPC's, Vert.x's and Netty's. */
class EtcdThreadsIT {

    private static final String PREFIX = TestServers.etcdKeyPrefix(EtcdThreadsIT.class);

    @TempDir
    Path dir;

    @AfterAll
    static void deleteKeys() {
        SharedEtcd.deleteKeys(PREFIX);
    }

    private static Set<String> liveThreads() {
        return Thread.getAllStackTraces().keySet().stream().filter(Thread::isAlive).map(t -> t.getName() + (t.isDaemon() ? " (daemon)" : ""))
                .collect(Collectors.toCollection(TreeSet::new));
    }

    @Test
    void closeStopsEveryThreadItStarted() throws Exception {
        Set<String> before = liveThreads();
        // The default timeout: in a JVM whose first etcd call this is, the call also loads the client's classes and connects.
        try (IdGenerator g = FastGenerators.builder(SharedEtcd.endpoints(), PREFIX + "threads", dir, "a").setting("ekko.etcd.timeout", "2s")
                .build()) {
            g.next();
            Thread.sleep(700); // renewals run, watches are open
            Set<String> running = liveThreads();
            running.removeAll(before);
            assertTrue(!running.isEmpty(), "no thread of its own while running?");
        }
        Set<String> left = null;
        long deadline = System.nanoTime() + 10_000_000_000L;
        while (System.nanoTime() < deadline) {
            left = liveThreads();
            left.removeAll(before);
            left.removeIf(n -> n.startsWith("ForkJoinPool.commonPool-worker") || n.startsWith("Attach Listener"));
            if (left.isEmpty()) {
                break;
            }
            Thread.sleep(100);
        }
        assertEquals(List.of(), List.copyOf(left), "threads still alive 10 s after close()");
    }
}
