package dev.ekko.client;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpServer;
import java.io.IOException;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicReference;
import java.util.function.IntFunction;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * Adversarial review of the client alone, against test doubles of an ekko-server (never a real one): a tiny
 * {@link com.sun.net.httpserver.HttpServer} that hands out unique IDs from one counter shared by every double (as a fleet
 * would), and sockets that accept connections but never answer. Claims 2 (never hands out an ID twice), 3 (the token in
 * no exception) and 6 (buffer while every server is down, failover, errors naming every server and every bad setting's
 * key) of docs/server.md.
 */
@Timeout(30)
class ClientReviewTest {

    static {
        // The JDK's HttpServer writes headers and body apart: without TCP_NODELAY each answer waits ~40 ms for a delayed ACK.
        System.setProperty("sun.net.httpserver.nodelay", "true");
    }

    /** The one counter of every double: a fleet never hands out a number twice. */
    private static final AtomicLong FLEET = new AtomicLong(1_000_000);

    private final List<AutoCloseable> doubles = new ArrayList<>();

    @AfterEach
    void closeDoubles() throws Exception {
        for (AutoCloseable c : doubles) {
            c.close();
        }
    }

    /**
     * A test double of an ekko-server's batch routes ({@code /v1/ids}, {@code /v1/segment/NAME/ids}): answers
     * {@code {"ids":[...]}} with {@code count} fresh numbers of {@link #FLEET}, or whatever {@link #behaviour} says for the
     * n-th request (1-based): a status other than 200, or a delay before the answer.
     */
    final class ServerDouble implements AutoCloseable {
        final HttpServer http;
        final ExecutorService threads = Executors.newCachedThreadPool(r -> {
            Thread t = new Thread(r, "server-double");
            t.setDaemon(true);
            return t;
        });
        final AtomicInteger requests = new AtomicInteger();
        final List<String> authorizations = new java.util.concurrent.CopyOnWriteArrayList<>();
        /** IDs put in answers that were written after the client's timeout (the client must never hand these out). */
        final Set<Long> late = ConcurrentHashMap.newKeySet();
        volatile IntFunction<Behaviour> behaviour = n -> Behaviour.OK;
        private boolean stopped;

        ServerDouble() throws IOException {
            http = HttpServer.create(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0), 50);
            http.setExecutor(threads);
            http.createContext("/", this::answer);
            http.start();
            doubles.add(this);
        }

        String base() {
            return "http://127.0.0.1:" + http.getAddress().getPort();
        }

        private void answer(HttpExchange ex) throws IOException {
            int n = requests.incrementAndGet();
            String auth = ex.getRequestHeaders().getFirst("Authorization");
            authorizations.add(auth == null ? "" : auth);
            Behaviour b = behaviour.apply(n);
            try {
                if (b.delayMillis > 0) {
                    Thread.sleep(b.delayMillis);
                }
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                ex.close();
                return;
            }
            if (b.status != 200) {
                send(ex, b.status, "{\"error\":\"double says " + b.status + "\"}");
                return;
            }
            String q = ex.getRequestURI().getRawQuery();
            int count = Integer.parseInt(q.replaceAll(".*count=(\\d+).*", "$1"));
            long first = FLEET.getAndAdd(count);
            StringBuilder s = new StringBuilder("{\"ids\":[");
            for (int i = 0; i < count; i++) {
                s.append(i == 0 ? "" : ",").append(first + i);
                if (b.delayMillis > 0) {
                    late.add(first + i);
                }
            }
            send(ex, 200, s.append("]}").toString());
        }

        private void send(HttpExchange ex, int status, String body) throws IOException {
            byte[] bytes = body.getBytes(StandardCharsets.UTF_8);
            ex.getResponseHeaders().set("Content-Type", "application/json");
            try {
                ex.sendResponseHeaders(status, bytes.length);
                try (OutputStream out = ex.getResponseBody()) {
                    out.write(bytes);
                }
            } catch (IOException e) {
                // the client gave up on this request: the numbers are lost, never handed out
            } finally {
                ex.close();
            }
        }

        /** Stops answering: connections are refused from now on. */
        synchronized void stop() {
            if (!stopped) {
                stopped = true;
                http.stop(0);
                threads.shutdownNow();
            }
        }

        @Override
        public void close() {
            stop();
        }
    }

    /** What a double does with one request. */
    record Behaviour(int status, long delayMillis) {
        static final Behaviour OK = new Behaviour(200, 0);
    }

    /** A server that accepts connections (the kernel completes the handshake) but never reads nor answers. */
    private ServerSocket silent() throws IOException {
        ServerSocket s = new ServerSocket(0, 50, InetAddress.getLoopbackAddress());
        doubles.add(s);
        return s;
    }

    private static String base(ServerSocket s) {
        return "http://127.0.0.1:" + s.getLocalPort();
    }

    // ------------------------------------------------------------------ claim 2: never the same ID twice

    @Test
    void concurrentCallersRacingSmallRefillsNeverGetTheSameIdTwice() throws Exception {
        ServerDouble a = new ServerDouble();
        ServerDouble b = new ServerDouble();
        // Every few requests a server answers slowly or with a 503: refills race callers and fail over all the time.
        a.behaviour = n -> n % 7 == 0 ? new Behaviour(503, 0) : n % 5 == 0 ? new Behaviour(200, 3) : Behaviour.OK;
        b.behaviour = n -> n % 4 == 0 ? new Behaviour(503, 0) : Behaviour.OK;
        Set<Long> seen = ConcurrentHashMap.newKeySet();
        AtomicReference<Throwable> failure = new AtomicReference<>();
        try (EkkoClient client = EkkoClient.builder().servers(a.base(), b.base()).batch(7).buffer(20).timeout(Duration.ofSeconds(5))
                .build()) {
            List<Thread> callers = new ArrayList<>();
            for (int t = 0; t < 12; t++) {
                Thread th = new Thread(() -> {
                    try {
                        for (int i = 0; i < 1000; i++) {
                            long id = i % 2 == 0 ? client.next() : client.segment("order").next();
                            if (!seen.add(id)) {
                                throw new AssertionError("ID " + id + " handed out twice");
                            }
                        }
                    } catch (Throwable e) {
                        failure.compareAndSet(null, e);
                    }
                });
                th.start();
                callers.add(th);
            }
            for (Thread th : callers) {
                th.join();
            }
        }
        assertEquals(null, failure.get());
        assertEquals(12 * 1000, seen.size());
    }

    @Test
    void aBatchAnsweredAfterTheTimeoutIsNeverHandedOutAndNothingRepeats() throws Exception {
        ServerDouble slow = new ServerDouble();
        ServerDouble fast = new ServerDouble();
        // The slow server answers every request, but 1.2 s late: after the client's 300 ms timeout.
        slow.behaviour = n -> new Behaviour(200, 1200);
        Set<Long> seen = ConcurrentHashMap.newKeySet();
        try (EkkoClient client = EkkoClient.builder().servers(slow.base(), fast.base()).batch(50).buffer(200)
                .timeout(Duration.ofMillis(300)).build()) {
            long end = System.nanoTime() + TimeUnit.SECONDS.toNanos(3);
            while (System.nanoTime() < end) {
                try {
                    long id = client.next();
                    assertTrue(seen.add(id), "ID " + id + " handed out twice");
                } catch (EkkoClientException e) {
                    // the first callers may find the buffer empty while the slow server times out: not what this test checks
                    Thread.sleep(10);
                }
            }
            Thread.sleep(1500); // every late answer written
        }
        assertTrue(seen.size() > 100, "served " + seen.size());
        assertTrue(slow.requests.get() >= 1, "the slow server was asked");
        for (long id : slow.late) {
            assertFalse(seen.contains(id), "ID " + id + " of an answer after the timeout (a failed request) was handed out");
        }
    }

    @Test
    void failoverInTheMiddleOfARefillNeverRepeats() throws Exception {
        ServerDouble a = new ServerDouble();
        ServerDouble b = new ServerDouble();
        CountDownLatch third = new CountDownLatch(1);
        a.behaviour = n -> {
            if (n == 3) {
                third.countDown();
            }
            return n >= 3 ? new Behaviour(200, 100) : Behaviour.OK;
        };
        Set<Long> seen = ConcurrentHashMap.newKeySet();
        try (EkkoClient client = EkkoClient.builder().servers(a.base(), b.base()).batch(10).buffer(1000).timeout(Duration.ofSeconds(2))
                .build()) {
            assertTrue(seen.add(client.next())); // the refill loop starts: 100 batches of 10 to fill the buffer
            assertTrue(third.await(5, TimeUnit.SECONDS));
            a.stop(); // in the middle of that refill
            for (int i = 0; i < 3000; i++) {
                long id = client.next();
                assertTrue(seen.add(id), "ID " + id + " handed out twice");
            }
        }
        assertTrue(b.requests.get() > 0, "failed over to b");
    }

    // ------------------------------------------------------------------ claim 6: buffer, failover, errors

    @Test
    void theBufferServesWhileEveryServerIsDownThenTheErrorNamesEachServer() throws Exception {
        ServerDouble a = new ServerDouble();
        ServerDouble b = new ServerDouble();
        try (EkkoClient client = EkkoClient.builder().servers(a.base(), b.base()).batch(100).buffer(1000).timeout(Duration.ofMillis(500))
                .build()) {
            client.next();
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(5);
            while (client.buffered() < 900 && System.nanoTime() < deadline) {
                Thread.sleep(10);
            }
            int buffered = client.buffered();
            assertTrue(buffered >= 900, "buffered " + buffered);
            a.stop();
            b.stop();
            Set<Long> seen = new java.util.HashSet<>();
            for (int i = 0; i < buffered; i++) {
                assertTrue(seen.add(client.next()));
            }
            EkkoClientException e = assertThrows(EkkoClientException.class, client::next);
            assertTrue(e.getMessage().contains(a.base()) && e.getMessage().contains(b.base()), e.getMessage());
        }
    }

    @Test
    void aServerAnswering503IsSkippedAndTheOneThatAnsweredIsAskedFirst() throws Exception {
        ServerDouble a = new ServerDouble();
        ServerDouble b = new ServerDouble();
        a.behaviour = n -> new Behaviour(503, 0);
        try (EkkoClient client = EkkoClient.builder().servers(a.base(), b.base()).batch(10).buffer(10).timeout(Duration.ofSeconds(2))
                .build()) {
            for (int i = 0; i < 200; i++) {
                client.next();
            }
        }
        assertTrue(a.requests.get() <= 2, "a, which answered 503, was asked again " + a.requests.get() + " times although b answers");
        assertTrue(b.requests.get() >= 19, "b served: " + b.requests.get());
    }

    /**
     * Claim 6, "fails over": the first server accepts connections but never answers, the second is healthy. A caller on the
     * empty buffer waits the timeout, while the refill spends that same timeout on the first server before it asks the
     * second: the caller gets an error although a healthy server was there.
     */
    @Test
    void aCallerIsServedByTheHealthySecondServerWhenTheFirstNeverAnswers() throws Exception {
        ServerSocket hanging = silent();
        ServerDouble healthy = new ServerDouble();
        try (EkkoClient client = EkkoClient.builder().servers(base(hanging), healthy.base()).batch(10).buffer(100)
                .timeout(Duration.ofMillis(500)).build()) {
            long id = client.next();
            assertTrue(id >= 1_000_000);
        }
    }

    /** Claim 6, "its error names every server": servers that accept connections but never answer (not refused). */
    @Test
    void theErrorNamesEveryServerWhenNoneAnswers() throws Exception {
        ServerSocket a = silent();
        ServerSocket b = silent();
        try (EkkoClient client = EkkoClient.builder().servers(base(a), base(b)).batch(10).buffer(100).timeout(Duration.ofMillis(300))
                .build()) {
            EkkoClientException e = assertThrows(EkkoClientException.class, client::next);
            assertTrue(e.getMessage().contains(base(a)) && e.getMessage().contains(base(b)), "does not name every server: " + e.getMessage());
        }
    }

    /**
     * A 4xx "reaches the caller" (docs/server.md): it does, but only at the end of the caller's whole timeout, after the
     * client asked the server again and again in a tight loop (each failed refill on an empty buffer starts the next at
     * once, no back-off: the fail-fast check in IdBuffer.next is defeated by refillIfLow(true) just before it).
     */
    @Test
    void aClientErrorReachesTheCallerPromptlyWithoutHammeringTheServer() throws Exception {
        ServerDouble a = new ServerDouble();
        a.behaviour = n -> new Behaviour(401, 0);
        try (EkkoClient client = EkkoClient.builder().servers(a.base()).batch(10).buffer(100).timeout(Duration.ofSeconds(2)).build()) {
            long t0 = System.nanoTime();
            EkkoClientException e = assertThrows(EkkoClientException.class, client::next);
            long millis = (System.nanoTime() - t0) / 1_000_000;
            assertTrue(e.getMessage().contains("401"), e.getMessage());
            assertTrue(a.requests.get() <= 3 && millis < 1000, "a 401 reached the caller after " + millis + " ms and " + a.requests.get()
                    + " requests to the server");
        }
    }

    @Test
    void badSettingsAreRefusedNamingTheKey() {
        List<Runnable> bad = List.of(
                () -> EkkoClient.builder().setting("ekko.client.batch", "0"),
                () -> EkkoClient.builder().setting("ekko.client.batch", "1000001"),
                () -> EkkoClient.builder().setting("ekko.client.batch", "1e3"),
                () -> EkkoClient.builder().setting("ekko.client.batch", "99999999999"),
                () -> EkkoClient.builder().setting("ekko.client.buffer", "0"),
                () -> EkkoClient.builder().setting("ekko.client.buffer", "-5"),
                () -> EkkoClient.builder().setting("ekko.client.buffer", "lots"),
                () -> EkkoClient.builder().setting("ekko.client.timeout", "0ms"),
                () -> EkkoClient.builder().setting("ekko.client.timeout", "-1s"),
                () -> EkkoClient.builder().setting("ekko.client.timeout", "11m"),
                () -> EkkoClient.builder().setting("ekko.client.timeout", "2"),
                () -> EkkoClient.builder().setting("ekko.client.timeout", "1.5s"),
                () -> EkkoClient.builder().setting("ekko.client.timeout", "PT2S"),
                () -> EkkoClient.builder().setting("ekko.client.timeout", "99999999999999999999s"),
                () -> EkkoClient.builder().setting("ekko.client.servers", "ftp://ids-1:8080"),
                () -> EkkoClient.builder().setting("ekko.client.servers", "ids-1:8080"),
                () -> EkkoClient.builder().setting("ekko.client.servers", "http://ids 1:8080"),
                () -> EkkoClient.builder().setting("ekko.client.servers", " , ").build(),
                () -> EkkoClient.builder().servers("http://a:1").setting("ekko.client.buffer", "10").build());
        String[] keys = {"ekko.client.batch", "ekko.client.batch", "ekko.client.batch", "ekko.client.batch", "ekko.client.buffer",
            "ekko.client.buffer", "ekko.client.buffer", "ekko.client.timeout", "ekko.client.timeout", "ekko.client.timeout",
            "ekko.client.timeout", "ekko.client.timeout", "ekko.client.timeout", "ekko.client.timeout", "ekko.client.servers",
            "ekko.client.servers", "ekko.client.servers", "ekko.client.servers", "ekko.client.buffer"};
        for (int i = 0; i < bad.size(); i++) {
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class, bad.get(i)::run, "case " + i);
            assertTrue(e.getMessage().contains(keys[i]), "case " + i + ": " + e.getMessage());
        }
        IllegalArgumentException unknown = assertThrows(IllegalArgumentException.class,
                () -> EkkoClient.builder().setting("ekko.client.bufer", "10"));
        assertTrue(unknown.getMessage().contains("ekko.client.bufer"), unknown.getMessage());
    }

    /** A timeout that overflows a Duration: an ArithmeticException ("long overflow") that names no key. */
    @Test
    void anOverflowingTimeoutIsRefusedNamingTheKey() {
        RuntimeException e = assertThrows(RuntimeException.class,
                () -> EkkoClient.builder().setting("ekko.client.timeout", "200000000000000000m"));
        assertTrue(e instanceof IllegalArgumentException && e.getMessage().contains("ekko.client.timeout"), e.toString());
    }

    // ------------------------------------------------------------------ claim 3: the token

    @Test
    void theTokenIsNotInToStringNorInTheErrorsOfACleanToken() throws Exception {
        String token = "client-secret-0123456789abcdef";
        ServerDouble a = new ServerDouble();
        a.behaviour = n -> new Behaviour(401, 0);
        try (EkkoClient client = EkkoClient.builder().servers(a.base(), base(silent())).token(token).batch(10).buffer(10)
                .timeout(Duration.ofMillis(300)).build()) {
            assertFalse(client.toString().contains(token), client.toString());
            EkkoClientException e = assertThrows(EkkoClientException.class, client::next);
            assertFalse(chain(e).contains(token), chain(e));
            assertEquals("Bearer " + token, a.authorizations.get(0));
        }
    }

    /**
     * A token read from a file keeps its trailing newline unless the caller strips it ({@code token(String)} does not, nor
     * checks it): the JDK refuses the header value with an IllegalArgumentException whose message holds the whole
     * {@code Authorization} value, and Fetcher puts that message in the EkkoClientException every caller sees.
     */
    @Test
    void aTokenWithATrailingNewlineNeverAppearsInTheClientsException() throws Exception {
        String token = "client-secret-0123456789abcdef";
        ServerDouble a = new ServerDouble();
        try (EkkoClient client = EkkoClient.builder().servers(a.base()).token(token + "\n").batch(10).buffer(10)
                .timeout(Duration.ofMillis(300)).build()) {
            try {
                client.next();
            } catch (RuntimeException e) {
                assertFalse(chain(e).contains(token), "the token is in the client's exception: " + chain(e));
            }
        }
    }

    private static String chain(Throwable e) {
        StringBuilder b = new StringBuilder();
        for (Throwable t = e; t != null; t = t.getCause()) {
            b.append(t).append(" | ");
        }
        return b.toString();
    }
}
