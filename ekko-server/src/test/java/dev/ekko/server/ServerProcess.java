package dev.ekko.server;

import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;

/**
 * A real ekko-server: {@code java -jar ekko-server-VERSION-all.jar} in a child JVM with no {@code EKKO_*} variable of the
 * test's, its state and host lock directories under {@code dir}, any free ports; stopped with SIGTERM or SIGKILL.
 */
final class ServerProcess implements AutoCloseable {

    static final HttpClient HTTP = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(5)).build();

    final Process process;
    final List<String> stdout = new CopyOnWriteArrayList<>();
    final Path stderr;
    final int httpPort;
    final int grpcPort;
    private Thread pump;

    private ServerProcess(Process process, Path stderr, int httpPort, int grpcPort) {
        this.process = process;
        this.stderr = stderr;
        this.httpPort = httpPort;
        this.grpcPort = grpcPort;
    }

    static Path jar() {
        Path jar = Path.of(System.getProperty("ekko.server.jar", "target/ekko-server-all.jar"));
        assertTrue(Files.isRegularFile(jar), "no runnable jar at " + jar + " (built by package)");
        return jar;
    }

    /**
     * Starts a server and waits until it says it serves.
     *
     * @param dir the directory of its state, host locks and stderr
     * @param settings {@code ekko.*} settings, as arguments
     */
    static ServerProcess start(Path dir, Map<String, String> settings) throws IOException, InterruptedException {
        List<String> cmd = new ArrayList<>(List.of(Path.of(System.getProperty("java.home"), "bin", "java").toString(), "-Xmx256m", "-jar",
                jar().toString(), "ekko.server.http.port=0", "ekko.server.grpc.port=0"));
        settings.forEach((k, v) -> cmd.add(k + "=" + v));
        Files.createDirectories(dir);
        Path err = Files.createTempFile(dir, "stderr-", ".txt");
        ProcessBuilder pb = new ProcessBuilder(cmd).redirectError(err.toFile());
        pb.environment().keySet().removeIf(k -> k.startsWith("EKKO_") || k.equals("CLASSPATH"));
        pb.environment().put("EKKO_STATE_DIR", dir.resolve("state").toString());
        pb.environment().put("EKKO_HOST_LOCK_DIR", dir.resolve("host-locks").toString());
        Process p = pb.start();
        List<String> out = new CopyOnWriteArrayList<>();
        BufferedReader r = new BufferedReader(new InputStreamReader(p.getInputStream(), StandardCharsets.UTF_8));
        int http = -1;
        int grpc = -1;
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
        String line;
        while ((line = r.readLine()) != null) {
            out.add(line);
            if (line.startsWith("ekko-server: http listening on port ")) {
                http = Integer.parseInt(line.substring(line.lastIndexOf(' ') + 1));
            } else if (line.startsWith("ekko-server: grpc listening on port ")) {
                grpc = Integer.parseInt(line.substring(line.lastIndexOf(' ') + 1));
            } else if (line.startsWith("ekko-server: serving ")) {
                break;
            }
            if (System.nanoTime() > deadline) {
                break;
            }
        }
        if (line == null) {
            p.waitFor(10, TimeUnit.SECONDS);
            throw new AssertionError("ekko-server did not start (exit " + (p.isAlive() ? "none" : p.exitValue()) + "): " + out + "\n"
                    + Files.readString(err));
        }
        ServerProcess s = new ServerProcess(p, err, http, grpc);
        s.stdout.addAll(out);
        s.pump = new Thread(() -> {
            try {
                String l;
                while ((l = r.readLine()) != null) {
                    s.stdout.add(l);
                }
            } catch (IOException e) {
                // the process is gone
            }
        }, "server-stdout");
        s.pump.setDaemon(true);
        s.pump.start();
        return s;
    }

    String base() {
        return "http://127.0.0.1:" + httpPort;
    }

    HttpResponse<String> get(String pathAndQuery, String... headers) throws IOException, InterruptedException {
        return send("GET", pathAndQuery, headers);
    }

    HttpResponse<String> send(String method, String pathAndQuery, String... headers) throws IOException, InterruptedException {
        HttpRequest.Builder b = HttpRequest.newBuilder(URI.create(base() + pathAndQuery)).timeout(Duration.ofSeconds(20))
                .method(method, HttpRequest.BodyPublishers.noBody());
        for (int i = 0; i + 1 < headers.length; i += 2) {
            b.header(headers[i], headers[i + 1]);
        }
        return HTTP.send(b.build(), HttpResponse.BodyHandlers.ofString());
    }

    /** Sends {@code request} as written over a plain socket; {@return all the server answered before closing} */
    String raw(String request) throws IOException {
        try (java.net.Socket socket = new java.net.Socket("127.0.0.1", httpPort)) {
            socket.setSoTimeout(10_000);
            socket.getOutputStream().write(request.getBytes(StandardCharsets.ISO_8859_1));
            socket.getOutputStream().flush();
            java.io.ByteArrayOutputStream got = new java.io.ByteArrayOutputStream();
            byte[] buf = new byte[4096];
            try {
                for (int n; (n = socket.getInputStream().read(buf)) > 0; ) {
                    got.write(buf, 0, n);
                }
            } catch (java.net.SocketTimeoutException e) {
                // the server kept the connection open: what came is the answer
            }
            return got.toString(StandardCharsets.ISO_8859_1);
        }
    }

    String stderrText() throws IOException {
        return Files.readString(stderr);
    }

    /** SIGTERM, then waits for the exit; {@return the exit status} */
    int stop() throws InterruptedException {
        // SIGTERM through the handle: Process.destroy() would also close our end of its stdout, losing what it prints last.
        process.toHandle().destroy();
        assertTrue(process.waitFor(30, TimeUnit.SECONDS), "ekko-server did not stop within 30 s of SIGTERM");
        pump.join(5000); // every line it wrote before exiting
        return process.exitValue();
    }

    /** SIGKILL: no shutdown hook runs, the worker ID is not given back. */
    void kill() throws InterruptedException {
        process.destroyForcibly();
        process.waitFor(30, TimeUnit.SECONDS);
    }

    @Override
    public void close() {
        if (process.isAlive()) {
            process.destroyForcibly();
        }
    }
}
