package dev.ekko.testsupport;

import java.nio.file.Path;
import java.util.List;

/**
 * A single-member etcd cluster of the test's own; see {@link DisposableServer} for the lifecycle.
 *
 * <p>Its raft timing is ten times faster than etcd's default (heartbeat 50 ms, election 500 ms)
 * so that it elects itself leader quickly after each start; as a consequence etcd's smallest
 * lease TTL is 1 s here rather than 2 s. After {@link #restartEmpty()} it is a new cluster with a
 * new cluster id, and every lease and revision is gone.
 *
 * <pre>{@code
 * try (DisposableEtcd etcd = DisposableEtcd.launch()) {
 *     String endpoint = etcd.endpoint();  // http://127.0.0.1:PORT
 *     etcd.stop();                        // the coordinator went away
 *     etcd.restartEmpty();                // it is back, same port, no keys, no leases
 * }
 * }</pre>
 */
public final class DisposableEtcd extends DisposableServer {
    private final int peerPort;

    private DisposableEtcd() {
        super("etcd", "etcd-server");
        this.peerPort = reserveExtraPort();
    }

    /**
     * Starts a new etcd server on a free port in a new temporary directory.
     *
     * @return the running server; close it
     * @throws IllegalStateException if {@code etcd} is not installed or did not start
     */
    public static DisposableEtcd launch() {
        DisposableEtcd etcd = new DisposableEtcd();
        try {
            etcd.start();
            return etcd;
        } catch (RuntimeException e) {
            etcd.close();
            throw e;
        }
    }

    /** The client URL, {@code http://127.0.0.1:PORT}, valid across restarts. */
    public String endpoint() {
        return "http://127.0.0.1:" + port();
    }

    @Override
    List<String> command(Path dataDirectory) {
        String clientUrl = endpoint();
        String peerUrl = "http://127.0.0.1:" + peerPort;
        return List.of(executable().toString(),
                "--name", "disposable",
                "--data-dir", dataDirectory.toString(),
                "--listen-client-urls", clientUrl,
                "--advertise-client-urls", clientUrl,
                "--listen-peer-urls", peerUrl,
                "--initial-advertise-peer-urls", peerUrl,
                "--initial-cluster", "disposable=" + peerUrl,
                "--initial-cluster-state", "new",
                "--heartbeat-interval", "50",
                "--election-timeout", "500",
                "--logger", "zap",
                "--log-outputs", "stderr");
    }

    @Override
    boolean isReady() {
        // /health turns true once the member has a leader, i.e. once it can serve writes.
        String reply = LoopbackProbe.exchange(port(),
                "GET /health HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n", "\"health\":\"true\"");
        return reply != null && reply.contains("\"health\":\"true\"");
    }
}
