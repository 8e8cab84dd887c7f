package dev.ekko.testsupport;

import java.io.IOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashSet;
import java.util.Set;
import java.util.concurrent.ThreadLocalRandom;

/**
 * Hands out free TCP ports on 127.0.0.1 for servers that must come back on the same port.
 *
 * <p>Ports come from below the kernel's ephemeral range: a port in that range, left free while
 * its server is stopped, may be taken as the local port of any outgoing connection and then
 * refuse the restart. Ports handed out in this JVM are not handed out again while reserved.
 */
final class LoopbackPorts {
    private static final int LOWEST = 15000;
    private static final int ATTEMPTS = 200;
    private static final Set<Integer> RESERVED = new HashSet<>();

    private LoopbackPorts() {
    }

    /**
     * A port nothing listens on now, reserved until {@link #release(int)}.
     *
     * @throws IllegalStateException if none was found
     */
    static synchronized int reserve() {
        int highest = ephemeralLow() - 1;
        if (highest - LOWEST >= 1000) {
            for (int attempt = 0; attempt < ATTEMPTS; attempt++) {
                int port = ThreadLocalRandom.current().nextInt(LOWEST, highest + 1);
                if (!RESERVED.contains(port) && isBindable(port)) {
                    RESERVED.add(port);
                    return port;
                }
            }
        }
        // The ephemeral range leaves no room below it: let the kernel choose.
        for (int attempt = 0; attempt < ATTEMPTS; attempt++) {
            int port = kernelChosenPort();
            if (port > 0 && RESERVED.add(port)) {
                return port;
            }
        }
        throw new IllegalStateException("found no free TCP port on 127.0.0.1 after " + (2 * ATTEMPTS) + " attempts");
    }

    static synchronized void release(int port) {
        RESERVED.remove(port);
    }

    private static boolean isBindable(int port) {
        try (ServerSocket socket = new ServerSocket()) {
            socket.setReuseAddress(true);
            socket.bind(new InetSocketAddress(InetAddress.getLoopbackAddress(), port));
            return true;
        } catch (IOException e) {
            return false;
        }
    }

    private static int kernelChosenPort() {
        try (ServerSocket socket = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
            return socket.getLocalPort();
        } catch (IOException e) {
            return -1;
        }
    }

    /** The first port of Linux's ephemeral range; 32768 if it cannot be read. */
    private static int ephemeralLow() {
        try {
            String range = Files.readString(Path.of("/proc/sys/net/ipv4/ip_local_port_range")).strip();
            return Integer.parseInt(range.split("\\s+")[0]);
        } catch (IOException | RuntimeException e) {
            return 32768;
        }
    }
}
