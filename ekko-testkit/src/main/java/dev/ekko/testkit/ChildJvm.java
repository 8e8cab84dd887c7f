package dev.ekko.testkit;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.io.OutputStreamWriter;
import java.io.Writer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;

/**
 * A second JVM running {@link GeneratorProcess} on this JVM's class path: a real other process, with
 * its own file locks, that a test can kill with SIGKILL.
 */
public final class ChildJvm implements AutoCloseable {

    private final Process process;
    private final BufferedReader out;
    private final Writer in;
    private final String firstLine;

    private ChildJvm(Process process) throws IOException {
        this.process = process;
        this.out = new BufferedReader(new InputStreamReader(process.getInputStream(), StandardCharsets.UTF_8));
        this.in = new OutputStreamWriter(process.getOutputStream(), StandardCharsets.UTF_8);
        String line = out.readLine();
        this.firstLine = line == null ? "EXITED before printing anything" : line;
    }

    /**
     * Starts a child generator and waits for its first line ({@code READY ...} or {@code FAILED ...}).
     *
     * @param settings {@code ekko.*} settings for the child's builder
     * @return the child, started or failed (see {@link #ready()})
     * @throws IOException if the JVM cannot be started
     */
    public static ChildJvm start(Map<String, String> settings) throws IOException {
        List<String> cmd = new ArrayList<>();
        cmd.add(Path.of(System.getProperty("java.home"), "bin", "java").toString());
        cmd.add("-cp");
        cmd.add(System.getProperty("java.class.path"));
        cmd.add("-Djava.util.logging.config.file=/dev/null");
        cmd.add(GeneratorProcess.class.getName());
        settings.forEach((k, v) -> cmd.add(k + "=" + v));
        ProcessBuilder pb = new ProcessBuilder(cmd);
        pb.redirectError(ProcessBuilder.Redirect.INHERIT);
        return new ChildJvm(pb.start());
    }

    /** {@return true if the child started a generator} */
    public boolean ready() {
        return firstLine.startsWith("READY ");
    }

    /** {@return the child's first line: {@code READY worker=N} or {@code FAILED <class>: <message>}} */
    public String firstLine() {
        return firstLine;
    }

    /** {@return the worker ID the child holds} */
    public int workerId() {
        if (!ready()) {
            throw new IllegalStateException("child did not start: " + firstLine);
        }
        return Integer.parseInt(firstLine.substring("READY worker=".length()).trim());
    }

    /** {@return the child's pid} */
    public long pid() {
        return process.pid();
    }

    /**
     * Asks the child for {@code n} IDs and returns them in the order issued.
     *
     * @param n how many IDs
     * @return the IDs, unsigned
     * @throws IOException if the child exits or answers otherwise
     */
    public long[] next(int n) throws IOException {
        in.write("next " + n + "\n");
        in.flush();
        long[] ids = new long[n];
        for (int i = 0; i < n; i++) {
            String line = out.readLine();
            if (line == null) {
                throw new IOException("child exited after " + i + " of " + n + " IDs");
            }
            ids[i] = Long.parseUnsignedLong(line);
        }
        String ok = out.readLine();
        if (!"OK".equals(ok)) {
            throw new IOException("child said " + ok + " instead of OK");
        }
        return ids;
    }

    /**
     * Kills the child with SIGKILL: no shutdown hook, no clean close, as in a crash.
     *
     * @throws InterruptedException if interrupted while waiting up to 10 s for it to end
     */
    public void kill() throws InterruptedException {
        process.destroyForcibly();
        process.waitFor(10, TimeUnit.SECONDS);
    }

    /**
     * Asks the child to close its generator cleanly and exit.
     *
     * @throws IOException if the child cannot be told
     * @throws InterruptedException if interrupted while waiting up to 10 s for it to end
     */
    public void closeCleanly() throws IOException, InterruptedException {
        in.write("close\n");
        in.flush();
        process.waitFor(10, TimeUnit.SECONDS);
    }

    @Override
    public void close() {
        process.destroyForcibly();
    }
}
