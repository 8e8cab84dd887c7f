package dev.ekko.testsupport;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.nio.charset.StandardCharsets;

/** Sends one request to a port on 127.0.0.1 and returns the whole reply, or null if none came. */
final class LoopbackProbe {
    private static final int TIMEOUT_MILLIS = 1000;
    private static final int MAX_REPLY_BYTES = 64 * 1024;

    private LoopbackProbe() {
    }

    /**
     * Connects, writes {@code request}, and reads until the server closes the connection, the
     * reply holds {@code enough}, or a second passes.
     */
    static String exchange(int port, String request, String enough) {
        try (Socket socket = new Socket()) {
            socket.connect(new InetSocketAddress(InetAddress.getLoopbackAddress(), port), TIMEOUT_MILLIS);
            socket.setSoTimeout(TIMEOUT_MILLIS);
            socket.getOutputStream().write(request.getBytes(StandardCharsets.US_ASCII));
            socket.getOutputStream().flush();
            InputStream in = socket.getInputStream();
            ByteArrayOutputStream reply = new ByteArrayOutputStream();
            byte[] buffer = new byte[4096];
            int read;
            while (reply.size() < MAX_REPLY_BYTES && (read = in.read(buffer)) >= 0) {
                reply.write(buffer, 0, read);
                if (reply.toString(StandardCharsets.UTF_8).contains(enough)) {
                    break;
                }
            }
            return reply.toString(StandardCharsets.UTF_8);
        } catch (IOException e) {
            return null;
        }
    }
}
