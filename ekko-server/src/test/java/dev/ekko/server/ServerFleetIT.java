package dev.ekko.server;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.ekko.Layout;
import dev.ekko.client.EkkoClient;
import dev.ekko.client.EkkoClientException;
import dev.ekko.testsupport.TestServers;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * Real server processes leasing worker IDs from the Redis that the test command starts: two servers never hand out the
 * same ID; a server killed with SIGKILL and started again on its worker ID carries on past every ID it gave; a server
 * stopped with SIGTERM gives its worker ID back at once; the client keeps serving through one server's restart, and from
 * its buffer while every server is down.
 */
class ServerFleetIT {

    private final List<ServerProcess> started = new ArrayList<>();

    @AfterEach
    void killAll() {
        started.forEach(ServerProcess::close);
    }

    private static Map<String, String> fleet(String namespace, int workerIds, String ttl) {
        Map<String, String> m = new HashMap<>();
        m.put("ekko.worker.allocator", "redis");
        m.put("ekko.redis.uri", TestServers.redisUri());
        m.put("ekko.redis.namespace", namespace);
        m.put("ekko.worker.ids", Integer.toString(workerIds));
        m.put("ekko.worker.lease.ttl", ttl);
        m.put("ekko.worker.lease.margin", "500ms");
        m.put("ekko.worker.report.interval", "500ms");
        m.put("ekko.clock.max.skew", "500ms");
        return m;
    }

    private ServerProcess start(Path dir, Map<String, String> settings) throws Exception {
        ServerProcess s = ServerProcess.start(dir, settings);
        started.add(s);
        return s;
    }

    private static long[] batch(ServerProcess s, int n) throws Exception {
        HttpResponse<String> r = s.get("/v1/ids?count=" + n + "&format=number");
        assertEquals(200, r.statusCode(), r.body());
        String[] parts = r.body().substring(8, r.body().length() - 2).split(",");
        long[] ids = new long[parts.length];
        for (int i = 0; i < parts.length; i++) {
            ids[i] = Long.parseUnsignedLong(parts[i]);
        }
        return ids;
    }

    private static int worker(ServerProcess s) throws Exception {
        String ready = s.get("/health/ready").body();
        return Integer.parseInt(ready.replaceAll(".*\"worker\":(\\d+).*", "$1"));
    }

    @Test
    void twoServersNeverRepeatAndOneKilledAndStartedAgainCarriesOnPastItsIds() throws Exception {
        String ns = TestServers.redisKeyPrefix(ServerFleetIT.class) + "two";
        Map<String, String> settings = fleet(ns, 2, "2s");
        Path dirA = Files.createTempDirectory("ekko-fleet-a");
        ServerProcess a = start(dirA, settings);
        ServerProcess b = start(Files.createTempDirectory("ekko-fleet-b"), settings);
        assertTrue(worker(a) != worker(b), "one worker ID each");
        int workerA = worker(a);

        Set<Long> seen = ConcurrentHashMap.newKeySet();
        AtomicReference<Throwable> failure = new AtomicReference<>();
        AtomicBoolean stop = new AtomicBoolean();
        List<Thread> drawers = new ArrayList<>();
        long[] lastOfA = {0};
        for (ServerProcess s : List.of(a, b)) {
            Thread t = new Thread(() -> {
                try {
                    while (!stop.get()) {
                        for (long id : batch(s, 1000)) {
                            if (!seen.add(id)) {
                                throw new AssertionError("ID " + Long.toUnsignedString(id) + " handed out twice");
                            }
                            if (s == a) {
                                lastOfA[0] = id;
                            }
                        }
                    }
                } catch (Throwable e) {
                    failure.compareAndSet(null, e);
                }
            });
            t.start();
            drawers.add(t);
        }
        Thread.sleep(1500);
        stop.set(true);
        for (Thread t : drawers) {
            t.join();
        }
        assertEquals(null, failure.get());
        assertTrue(seen.size() >= 2000, "drew " + seen.size());

        a.kill(); // no shutdown hook: worker ID A stays leased until its TTL runs out
        ServerProcess again = null;
        long deadline = System.nanoTime() + 30_000_000_000L;
        while (again == null) {
            try {
                again = start(dirA, settings);
            } catch (AssertionError e) {
                // worker IDs exhausted until A's lease expires (2 s): try again
                assertTrue(System.nanoTime() < deadline, "did not start again within 30 s: " + e.getMessage());
                Thread.sleep(500);
            }
        }
        assertEquals(workerA, worker(again), "the pool has two worker IDs: the restarted server holds A's again");
        for (int round = 0; round < 5; round++) {
            for (ServerProcess s : List.of(again, b)) {
                for (long id : batch(s, 1000)) {
                    assertTrue(seen.add(id), "ID " + Long.toUnsignedString(id) + " handed out twice");
                }
            }
        }
        long firstAfter = batch(again, 1)[0];
        assertTrue(Layout.compare(firstAfter, lastOfA[0]) > 0, "the restarted server went back: " + Long.toUnsignedString(firstAfter)
                + " after " + Long.toUnsignedString(lastOfA[0]));
    }

    @Test
    void aServerStoppedWithSigtermGivesItsWorkerIdBackAtOnce() throws Exception {
        // One worker ID, leased for 8 s: the next server can start at once only if the first one released it (else its
        // acquire finds no free worker ID and it exits). The first holder of a new namespace waits one TTL before issuing.
        Map<String, String> settings = fleet(TestServers.redisKeyPrefix(ServerFleetIT.class) + "one", 1, "8s");
        ServerProcess first = start(Files.createTempDirectory("ekko-fleet-first"), settings);
        long before = batch(first, 1)[0];
        assertEquals(143, first.stop());
        assertTrue(first.stdout.contains("ekko-server: stopped; worker ID given back"), first.stdout.toString());
        ServerProcess second = start(Files.createTempDirectory("ekko-fleet-second"), settings);
        assertEquals(0, worker(second));
        assertTrue(Layout.compare(batch(second, 1)[0], before) > 0, "the next holder starts past the first one's IDs");
    }

    @Test
    void theClientKeepsServingThroughARestartAndFromItsBufferWhileEveryServerIsDown() throws Exception {
        Map<String, String> settings = fleet(TestServers.redisKeyPrefix(ServerFleetIT.class) + "client", 4, "2s");
        int portA;
        try (java.net.ServerSocket free = new java.net.ServerSocket(0, 1, java.net.InetAddress.getLoopbackAddress())) {
            portA = free.getLocalPort();
        }
        settings.put("ekko.server.http.port", Integer.toString(portA)); // A comes back where the client knows it
        Path dirA = Files.createTempDirectory("ekko-fleet-ca");
        ServerProcess a = start(dirA, settings);
        Map<String, String> settingsB = new HashMap<>(settings);
        settingsB.remove("ekko.server.http.port");
        ServerProcess b = start(Files.createTempDirectory("ekko-fleet-cb"), settingsB);
        Set<Long> seen = new HashSet<>();
        Set<Integer> workers = new HashSet<>();
        try (EkkoClient client = EkkoClient.builder().servers(a.base(), b.base()).batch(200).buffer(2000).build()) {
            AtomicReference<Throwable> failure = new AtomicReference<>();
            AtomicBoolean stop = new AtomicBoolean();
            Thread user = new Thread(() -> {
                try {
                    while (!stop.get()) {
                        long id = client.next();
                        synchronized (seen) {
                            if (!seen.add(id)) {
                                throw new AssertionError("ID " + Long.toUnsignedString(id) + " handed out twice");
                            }
                            workers.add(Layout.defaults().decode(id).worker());
                        }
                        if (seen.size() % 1000 == 0) {
                            Thread.sleep(5); // a steady user, not a flood
                        }
                    }
                } catch (Throwable e) {
                    failure.compareAndSet(null, e);
                }
            });
            user.start();
            Thread.sleep(1000);
            assertEquals(143, a.stop()); // the client fails over to B
            Thread.sleep(1000);
            a = start(dirA, settings);
            Thread.sleep(500);
            assertEquals(143, b.stop()); // and back to A
            Thread.sleep(1000);
            stop.set(true);
            user.join();
            assertEquals(null, failure.get(), "the client failed during a restart");
            assertTrue(workers.size() >= 2, "served by more than one server: workers " + workers);

            // Every server down: the buffer still serves, then the error names each server.
            a.kill();
            int served = 0;
            EkkoClientException e = null;
            while (e == null) {
                try {
                    long id = client.next();
                    assertTrue(seen.add(id));
                    served++;
                } catch (EkkoClientException ex) {
                    e = ex;
                }
            }
            assertTrue(served > 0 && served <= 2000, "served " + served + " from the buffer");
            assertTrue(e.getMessage().contains(a.base()) && e.getMessage().contains(b.base()), e.getMessage());
        }
    }
}
