package dev.ekko.testsupport;

import java.io.File;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;

/**
 * A server process of a test's own, on a fixed 127.0.0.1 port, in a temporary directory, that
 * the test can take away and bring back: the way to check what a back end does when its
 * coordinator dies and returns.
 *
 * <p>Lifecycle: {@code launch()} (on the subclass) starts it; {@link #stop()} (SIGTERM) or
 * {@link #kill()} (SIGKILL) ends the process and keeps the data; {@link #start()} brings it back
 * on the same port with that data; {@link #restartEmpty()} brings it back on the same port with
 * none, as a coordinator rebuilt from scratch; {@link #close()} kills it and deletes its
 * directory. Each server is configured so that data written before a {@link #kill()} survives.
 *
 * <p>Processes are signalled by their own pid only, and reaped. Waits are bounded: a server
 * not ready in {@value #READY_TIMEOUT_SECONDS} s is killed and reported with the end of its log.
 * A JVM shutdown hook kills a server the test forgot to close. Methods are synchronized, so a
 * test may stop a server from one thread while others use it.
 *
 * <p>Directories are created in {@code EKKO_TEST_TMPDIR} if set, else in {@code java.io.tmpdir}.
 * These servers never touch the shared ones from {@link TestServers}.
 */
public abstract sealed class DisposableServer implements AutoCloseable
        permits DisposableRedis, DisposableMariaDb, DisposableEtcd {
    static final int READY_TIMEOUT_SECONDS = 60;
    static final String TMPDIR_VARIABLE = "EKKO_TEST_TMPDIR";
    private static final Duration READY_TIMEOUT = Duration.ofSeconds(READY_TIMEOUT_SECONDS);
    private static final Duration STOP_TIMEOUT = Duration.ofSeconds(20);
    private static final Duration POLL_INTERVAL = Duration.ofMillis(20);
    private static final int LOG_LINES_IN_ERRORS = 60;

    private final String name;
    private final Path executable;
    private final Path directory;
    private final Path dataDirectory;
    private final Path logFile;
    private final int port;

    private final List<Integer> extraPorts = new ArrayList<>();

    private Process process;
    private Thread shutdownHook;
    private boolean closed;

    /**
     * Reserves a port and creates the temporary directory; starts nothing.
     *
     * @param name the server's executable, e.g. {@code redis-server}
     * @param debianPackage the Debian package that provides it, for the error message
     */
    DisposableServer(String name, String debianPackage) {
        this.name = name;
        this.executable = ServerBinary.find(name, debianPackage);
        this.port = LoopbackPorts.reserve();
        Path base = temporaryDirectoryBase();
        try {
            Files.createDirectories(base);
            this.directory = Files.createTempDirectory(base, "ekko-" + name + "-");
        } catch (IOException e) {
            LoopbackPorts.release(port);
            throw new UncheckedIOException("could not create a temporary directory for " + name + " in " + base, e);
        }
        this.dataDirectory = directory.resolve("data");
        this.logFile = directory.resolve(name + ".log");
    }

    /** The port the server listens on at 127.0.0.1, the same for the server's whole life. */
    public final int port() {
        return port;
    }

    /** The server's log (its standard output and error, every start appended), for diagnosis. */
    public final Path logFile() {
        return logFile;
    }

    /** Whether the server process is alive. */
    public final synchronized boolean isRunning() {
        return process != null && process.isAlive();
    }

    /**
     * The server process's id.
     *
     * @throws IllegalStateException if it is not running
     */
    public final synchronized long pid() {
        requireRunning("pid()");
        return process.pid();
    }

    /**
     * Starts the server on {@link #port()} with the data it had when it stopped (none the first
     * time), and returns once it answers requests.
     *
     * @throws IllegalStateException if it is closed or already running, or did not become ready
     *         within {@value #READY_TIMEOUT_SECONDS} s (the message holds the end of its log), or
     *         the waiting thread was interrupted (the interrupt flag is kept)
     * @throws UncheckedIOException if its directory cannot be written or its program not run
     */
    public final synchronized void start() {
        requireOpen("start()");
        if (isRunning()) {
            throw new IllegalStateException("must be stopped to start(): " + this);
        }
        registerShutdownHook();
        try {
            Files.createDirectories(dataDirectory);
            Files.writeString(logFile, "---- ekko-test-support: starting " + name + " on 127.0.0.1:" + port
                    + " at " + Instant.now() + System.lineSeparator(), StandardCharsets.UTF_8,
                    StandardOpenOption.CREATE, StandardOpenOption.APPEND);
            prepareDataDirectory(dataDirectory);
            process = launch(command(dataDirectory));
            awaitReady();
            afterStart();
        } catch (IOException e) {
            destroyProcess();
            throw new UncheckedIOException("could not start " + this + ": " + e.getMessage(), e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            destroyProcess();
            throw new IllegalStateException("interrupted while starting " + this, e);
        } catch (RuntimeException e) {
            destroyProcess();
            throw e;
        }
    }

    /**
     * Stops the server the polite way, SIGTERM, as an operator would, waiting up to 20 s before
     * SIGKILL. Its data stays for {@link #start()}.
     *
     * @throws IllegalStateException if it is closed or not running
     */
    public final synchronized void stop() {
        requireRunning("stop()");
        process.destroy();
        awaitExit();
    }

    /**
     * Kills the server with SIGKILL, as a crash would. Data it acknowledged stays for
     * {@link #start()}.
     *
     * @throws IllegalStateException if it is closed or not running
     */
    public final synchronized void kill() {
        requireRunning("kill()");
        process.destroyForcibly();
        awaitExit();
    }

    /**
     * Kills the server if it runs, deletes all its data, and starts it on the same port: the
     * coordinator came back, but remembers nothing.
     *
     * @throws IllegalStateException as {@link #start()} does
     * @throws UncheckedIOException if its data cannot be deleted, or as {@link #start()} does
     */
    public final synchronized void restartEmpty() {
        requireOpen("restartEmpty()");
        if (isRunning()) {
            process.destroyForcibly();
            awaitExit();
        }
        try {
            deleteRecursively(dataDirectory);
        } catch (IOException e) {
            throw new UncheckedIOException("could not delete the data of " + this, e);
        }
        start();
    }

    /** Writes a server's data directory (which does not exist yet) before it starts from it. */
    @FunctionalInterface
    interface DataWriter {
        void write(Path dataDirectory) throws IOException, InterruptedException;
    }

    /**
     * Kills the server if it runs, replaces its data with what {@code writer} puts in the data directory, and starts
     * it on the same port: a restore from a backup.
     */
    final synchronized void restartWithData(DataWriter writer) {
        requireOpen("restartWithData()");
        if (isRunning()) {
            process.destroyForcibly();
            awaitExit();
        }
        try {
            deleteRecursively(dataDirectory);
            writer.write(dataDirectory);
        } catch (IOException e) {
            throw new UncheckedIOException("could not replace the data of " + this + ": " + e.getMessage(), e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException("interrupted while replacing the data of " + this, e);
        }
        start();
    }

    /**
     * Kills the server if it runs and deletes its directory. Calling it again does nothing.
     *
     * @throws UncheckedIOException if the directory cannot be deleted (the server is dead anyway)
     */
    @Override
    public final synchronized void close() {
        if (closed) {
            return;
        }
        closed = true;
        destroyProcess();
        try {
            deleteRecursively(directory);
        } catch (IOException e) {
            throw new UncheckedIOException("could not delete the directory of " + this, e);
        } finally {
            LoopbackPorts.release(port);
            extraPorts.forEach(LoopbackPorts::release);
            removeShutdownHook();
        }
    }

    @Override
    public final synchronized String toString() {
        String state = closed ? "closed" : process == null ? "never started"
                : process.isAlive() ? "running, pid " + process.pid()
                : "exited with status " + process.exitValue();
        return getClass().getSimpleName() + "[127.0.0.1:" + port + ", " + state + ", " + directory + "]";
    }

    /** The command line that runs the server in the foreground on {@link #port()}. */
    abstract List<String> command(Path dataDirectory);

    /** Whether the server answers requests now; a probe, quick and never throwing on failure. */
    abstract boolean isReady() throws InterruptedException;

    /** Fills an empty data directory before the server starts, if the server needs that. */
    void prepareDataDirectory(Path dataDirectory) throws IOException, InterruptedException {
    }

    /** Runs once the server answers, on every start. */
    void afterStart() throws IOException, InterruptedException {
    }

    /** Reserves another port for the server's own use (etcd's peer port), released by {@link #close()}. */
    final synchronized int reserveExtraPort() {
        int extraPort = LoopbackPorts.reserve();
        extraPorts.add(extraPort);
        return extraPort;
    }

    final Path executable() {
        return executable;
    }

    final Path directory() {
        return directory;
    }

    /**
     * Runs a helper program (an initializer or a client) to completion, its output going to the
     * log, and fails with the log if it does not succeed in time.
     */
    final void runHelper(List<String> command, Duration timeout) throws IOException, InterruptedException {
        Process helper = launch(command);
        if (!helper.waitFor(timeout.toMillis(), TimeUnit.MILLISECONDS)) {
            helper.destroyForcibly().waitFor();
            throw failure(command.get(0) + " did not finish within " + timeout.toSeconds() + " s");
        }
        if (helper.exitValue() != 0) {
            // The command line is left out: it may hold a password. The log says what went wrong.
            throw failure(command.get(0) + " exited with status " + helper.exitValue());
        }
    }

    /** Runs a helper program and says whether it exited with 0 within the timeout; never throws for its failure. */
    final boolean helperSucceeds(List<String> command, Duration timeout) throws InterruptedException {
        try {
            Process helper = launch(command);
            if (!helper.waitFor(timeout.toMillis(), TimeUnit.MILLISECONDS)) {
                helper.destroyForcibly().waitFor();
                return false;
            }
            return helper.exitValue() == 0;
        } catch (IOException e) {
            return false;
        }
    }

    private Process launch(List<String> command) throws IOException {
        ProcessBuilder builder = new ProcessBuilder(command)
                .directory(directory.toFile())
                .redirectInput(ProcessBuilder.Redirect.from(new File("/dev/null")))
                .redirectErrorStream(true)
                .redirectOutput(ProcessBuilder.Redirect.appendTo(logFile.toFile()));
        builder.environment().put("PATH", ServerBinary.searchPath());
        return builder.start();
    }

    private void awaitReady() throws InterruptedException {
        long deadline = System.nanoTime() + READY_TIMEOUT.toNanos();
        while (!isReady()) {
            if (!process.isAlive()) {
                throw failure("exited with status " + process.exitValue() + " before it was ready");
            }
            if (System.nanoTime() - deadline > 0) {
                destroyProcess();
                throw failure("was not ready within " + READY_TIMEOUT_SECONDS + " s");
            }
            Thread.sleep(POLL_INTERVAL.toMillis());
        }
    }

    /** Waits for the signalled process to exit, SIGKILLs it if it takes too long, and reaps it. */
    private void awaitExit() {
        boolean interrupted = false;
        try {
            while (true) {
                try {
                    if (!process.waitFor(STOP_TIMEOUT.toMillis(), TimeUnit.MILLISECONDS)) {
                        process.destroyForcibly();
                        process.waitFor();
                    }
                    return;
                } catch (InterruptedException e) {
                    // Returning with the server half-stopped would leave the test in a state it did not ask for.
                    interrupted = true;
                }
            }
        } finally {
            if (interrupted) {
                Thread.currentThread().interrupt();
            }
        }
    }

    private void destroyProcess() {
        if (process != null && process.isAlive()) {
            process.destroyForcibly();
            awaitExit();
        }
    }

    private IllegalStateException failure(String what) {
        return new IllegalStateException(name + " on 127.0.0.1:" + port + " " + what + "; log " + logFile
                + " ends with:" + System.lineSeparator() + logTail());
    }

    private String logTail() {
        try {
            List<String> lines = Files.readAllLines(logFile, StandardCharsets.UTF_8);
            return String.join(System.lineSeparator(),
                    lines.subList(Math.max(0, lines.size() - LOG_LINES_IN_ERRORS), lines.size()));
        } catch (IOException | UncheckedIOException e) {
            return "(could not read the log: " + e + ")";
        }
    }

    private void requireOpen(String operation) {
        if (closed) {
            throw new IllegalStateException("must not be closed to " + operation + ": " + this);
        }
    }

    private void requireRunning(String operation) {
        requireOpen(operation);
        if (!isRunning()) {
            throw new IllegalStateException("must be running to " + operation + ": " + this);
        }
    }

    private void registerShutdownHook() {
        if (shutdownHook == null) {
            shutdownHook = new Thread(this::closeQuietly, "ekko-test-support-close-" + name + "-" + port);
            Runtime.getRuntime().addShutdownHook(shutdownHook);
        }
    }

    private void removeShutdownHook() {
        if (shutdownHook != null && Thread.currentThread() != shutdownHook) {
            try {
                Runtime.getRuntime().removeShutdownHook(shutdownHook);
            } catch (IllegalStateException e) {
                // The JVM is already shutting down; the hook has run or will find the server closed.
            }
        }
    }

    private void closeQuietly() {
        try {
            close();
        } catch (RuntimeException e) {
            System.err.println("ekko-test-support: could not clean up " + this + ": " + e);
        }
    }

    /**
     * Where servers get their directories: {@code EKKO_TEST_TMPDIR} if set ({@code ./run-tests} points
     * it into its own throwaway directory, so that even the directories of a test JVM killed before
     * its cleanup ran are deleted), else {@code java.io.tmpdir}.
     */
    private static Path temporaryDirectoryBase() {
        String configured = System.getenv(TMPDIR_VARIABLE);
        return Path.of(configured != null && !configured.isBlank() ? configured : System.getProperty("java.io.tmpdir"));
    }

    static void deleteRecursively(Path root) throws IOException {
        if (!Files.exists(root)) {
            return;
        }
        List<Path> paths;
        try (Stream<Path> walk = Files.walk(root)) {
            paths = new ArrayList<>(walk.sorted(Comparator.reverseOrder()).toList());
        }
        for (Path path : paths) {
            Files.deleteIfExists(path);
        }
    }
}
