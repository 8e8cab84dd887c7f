package dev.ekko.testsupport;

import java.nio.file.Path;
import java.util.List;

/**
 * A Redis server of the test's own; see {@link DisposableServer} for the lifecycle.
 *
 * <p>It writes every command to an append-only file, fsynced before the reply
 * ({@code appendfsync always}), so that what a client saw acknowledged survives {@link #kill()}
 * exactly as it would on a production server configured for durability.
 *
 * <pre>{@code
 * try (DisposableRedis redis = DisposableRedis.launch()) {
 *     String uri = redis.uri();     // redis://127.0.0.1:PORT
 *     redis.kill();                 // the coordinator crashed
 *     redis.start();                // it is back, same port, same data
 * }
 * }</pre>
 */
public final class DisposableRedis extends DisposableServer {

    private DisposableRedis() {
        super("redis-server", "redis-server");
    }

    /**
     * Starts a new Redis server on a free port in a new temporary directory.
     *
     * @return the running server; close it
     * @throws IllegalStateException if {@code redis-server} is not installed or did not start
     */
    public static DisposableRedis launch() {
        DisposableRedis redis = new DisposableRedis();
        try {
            redis.start();
            return redis;
        } catch (RuntimeException e) {
            redis.close();
            throw e;
        }
    }

    /** {@code redis://127.0.0.1:PORT}, valid across restarts. */
    public String uri() {
        return "redis://127.0.0.1:" + port();
    }

    @Override
    List<String> command(Path dataDirectory) {
        return List.of(executable().toString(),
                "--port", Integer.toString(port()),
                "--bind", "127.0.0.1",
                "--dir", dataDirectory.toString(),
                "--save", "",
                "--appendonly", "yes",
                "--appendfsync", "always",
                "--daemonize", "no",
                "--logfile", "");
    }

    @Override
    boolean isReady() {
        // Redis answers -LOADING instead of +PONG while it replays the append-only file.
        String reply = LoopbackProbe.exchange(port(), "PING\r\n", "\r\n");
        return reply != null && reply.startsWith("+PONG");
    }
}
