package dev.ekko.worker.etcd;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;

/**
 * A TCP forwarder in front of etcd: what one holder sees of the network while the rest of the fleet reaches etcd directly.
 * {@link #pause()} holds every byte in both directions until {@link #resume()}, as a stalled network (or a paused process)
 * would; {@link #cut()} closes every connection and refuses new ones, as a partition would.
 */
final class EtcdLink implements AutoCloseable {
    private final ServerSocket server;
    private final int target;
    private final List<Socket> sockets = new CopyOnWriteArrayList<>();
    private volatile boolean cut;
    private volatile boolean paused;

    /** Forwards to etcd on the loopback address at {@code target}. */
    EtcdLink(int target) throws IOException {
        this.target = target;
        this.server = new ServerSocket(0, 50, InetAddress.getLoopbackAddress());
        Thread accept = new Thread(this::accept, "link-accept");
        accept.setDaemon(true);
        accept.start();
    }

    /** {@return the endpoint to give the holder instead of etcd's} */
    String endpoint() {
        return "http://127.0.0.1:" + server.getLocalPort();
    }

    void pause() {
        paused = true;
    }

    void resume() {
        paused = false;
    }

    private void accept() {
        while (!cut) {
            try {
                Socket in = server.accept();
                if (cut) {
                    in.close();
                    return;
                }
                Socket out = new Socket();
                out.connect(new InetSocketAddress(InetAddress.getLoopbackAddress(), target), 2000);
                in.setTcpNoDelay(true);
                out.setTcpNoDelay(true);
                sockets.add(in);
                sockets.add(out);
                pump(in, out);
                pump(out, in);
            } catch (IOException e) {
                if (cut) {
                    return;
                }
            }
        }
    }

    private void pump(Socket from, Socket to) {
        Thread t = new Thread(() -> {
            byte[] buf = new byte[16384];
            try (InputStream i = from.getInputStream(); OutputStream o = to.getOutputStream()) {
                int n;
                while ((n = i.read(buf)) >= 0) {
                    while (paused && !cut) {
                        Thread.sleep(1);
                    }
                    o.write(buf, 0, n);
                    o.flush();
                }
            } catch (IOException | InterruptedException e) {
                // closed
            } finally {
                closeQuietly(from);
                closeQuietly(to);
            }
        }, "link-pump");
        t.setDaemon(true);
        t.start();
    }

    /** Closes every connection and refuses new ones. */
    void cut() {
        cut = true;
        try {
            server.close();
        } catch (IOException e) {
            // closed
        }
        sockets.forEach(EtcdLink::closeQuietly);
    }

    @Override
    public void close() {
        cut();
    }

    private static void closeQuietly(Socket s) {
        try {
            s.close();
        } catch (IOException e) {
            // closed
        }
    }
}
