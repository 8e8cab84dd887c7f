package dev.ekko.testsupport;

import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;

import java.io.IOException;
import java.net.ConnectException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.nio.file.Files;
import java.nio.file.Path;

/** What a test can check about a disposable server from outside, without a client library. */
final class ServerAssertions {
    private ServerAssertions() {
    }

    /** Nothing accepts TCP connections on 127.0.0.1:port: the server is really gone, not just idle. */
    static void assertRefusesConnections(int port) {
        assertThrows(ConnectException.class, () -> {
            try (Socket socket = new Socket()) {
                socket.connect(new InetSocketAddress(InetAddress.getLoopbackAddress(), port), 1000);
            }
        }, () -> "must refuse connections once stopped: port=" + port);
    }

    /** The process has exited and been reaped (no zombie), and the directory is deleted. */
    static void assertCleanedUp(long pid, Path directory) throws IOException {
        assertFalse(ProcessHandle.of(pid).isPresent(), () -> "must have exited and been reaped: pid=" + pid
                + " state=" + processState(pid));
        assertFalse(Files.exists(directory), () -> "must be deleted by close(): " + directory);
    }

    private static String processState(long pid) {
        try {
            return Files.readString(Path.of("/proc/" + pid + "/stat"));
        } catch (IOException e) {
            return "(no /proc entry)";
        }
    }
}
