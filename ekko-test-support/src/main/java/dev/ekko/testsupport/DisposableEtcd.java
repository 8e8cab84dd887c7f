package dev.ekko.testsupport;

import java.nio.file.Path;
import java.util.List;

/**
 * A single-member etcd cluster of the test's own; see {@link DisposableServer} for the lifecycle.
 *
 * <p>Its raft timing is ten times faster than etcd's default (heartbeat 50 ms, election 500 ms)
 * so that it elects itself leader quickly after each start; as a consequence etcd's smallest
 * lease TTL is 1 s here rather than 2 s. After {@link #restartEmpty()} every key, lease and revision is gone, but the
 * cluster ID is the same: etcd derives it from the member's name, peer URL and cluster token, which do not change.
 * {@link #saveSnapshot} and {@link #restartFromSnapshot} restore an older state, with the old cluster token (same
 * cluster ID) or a new one (a new cluster ID).
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

    /**
     * Saves a snapshot of the running server's data, as {@code etcdctl snapshot save} does for an operator's backup.
     *
     * @param name the file name, in the server's temporary directory
     * @return the snapshot file
     * @throws IllegalStateException if etcdctl ({@code etcd-client}) is missing or fails (the message holds the log's end)
     */
    public synchronized Path saveSnapshot(String name) {
        Path file = directory().resolve(name);
        try {
            runHelper(List.of(etcdctl().toString(), "--endpoints=" + endpoint(), "snapshot", "save", file.toString()),
                    java.time.Duration.ofSeconds(30));
        } catch (java.io.IOException e) {
            throw new java.io.UncheckedIOException("could not run etcdctl snapshot save for " + this, e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException("interrupted while saving a snapshot of " + this, e);
        }
        return file;
    }

    /**
     * Kills the server and starts it again, on the same ports, from a snapshot restored with {@code etcdctl snapshot
     * restore}: every key as it was when the snapshot was saved, leases included (etcd gives them their full TTL again).
     *
     * @param snapshot a file from {@link #saveSnapshot}
     * @param clusterToken the restore's {@code --initial-cluster-token}: {@code etcd-cluster} (the token this server was
     *     started with, etcd's default) keeps the cluster ID, any other gives a new one
     */
    public void restartFromSnapshot(Path snapshot, String clusterToken) {
        String peerUrl = "http://127.0.0.1:" + peerPort;
        restartWithData(data -> runHelper(List.of(etcdctl().toString(), "snapshot", "restore", snapshot.toString(), "--data-dir",
                data.toString(), "--name", "disposable", "--initial-cluster", "disposable=" + peerUrl, "--initial-advertise-peer-urls",
                peerUrl, "--initial-cluster-token", clusterToken), java.time.Duration.ofSeconds(30)));
    }

    private static Path etcdctl() {
        return ServerBinary.find("etcdctl", "etcd-client");
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
