package dev.ekko.testsupport;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;

/**
 * A MariaDB server of the test's own; see {@link DisposableServer} for the lifecycle.
 *
 * <p>It has a database {@value #DATABASE} and a user {@value #USER} with every privilege, for
 * TCP connections from 127.0.0.1; both are created again after {@link #restartEmpty()}. InnoDB
 * flushes its log at every commit (the default), so committed rows survive {@link #kill()}.
 * Needs {@code mariadbd}, {@code mariadb-install-db}, {@code mariadb} and {@code mariadb-admin}
 * (Debian package {@code mariadb-server}). Connecting needs a JDBC driver on the test class path.
 *
 * <pre>{@code
 * try (DisposableMariaDb db = DisposableMariaDb.launch()) {
 *     String url = db.jdbcUrl();  // jdbc:mysql://127.0.0.1:PORT/ekko?sslMode=DISABLED
 *     db.kill();                  // the database crashed
 *     db.start();                 // it is back, same port, committed rows kept
 * }
 * }</pre>
 */
public final class DisposableMariaDb extends DisposableServer {
    /** The database created on every start. */
    public static final String DATABASE = "ekko";
    /** The user created on every start, with every privilege. */
    public static final String USER = "ekko";

    /** Linux's sun_path holds 108 bytes, the last one a NUL. */
    private static final int MAX_SOCKET_PATH_BYTES = 107;
    private static final Duration HELPER_TIMEOUT = Duration.ofSeconds(60);
    private static final Duration PING_TIMEOUT = Duration.ofSeconds(5);
    /** How many times {@link #dump} tries before it reports the failure. */
    private static final int DUMP_ATTEMPTS = 5;
    /** InnoDB's default 96 MB redo log would make every throwaway server cost 100 MB of disk. */
    private static final String REDO_LOG_SIZE = "--innodb-log-file-size=16M";

    private final Path installDb;
    private final Path client;
    private final Path admin;
    private final Path dumper;
    private final String password = "ekko-" + TestNames.randomToken() + TestNames.randomToken();

    private DisposableMariaDb() {
        super("mariadbd", "mariadb-server");
        this.installDb = ServerBinary.find("mariadb-install-db", "mariadb-server");
        this.client = ServerBinary.find("mariadb", "mariadb-server");
        this.admin = ServerBinary.find("mariadb-admin", "mariadb-server");
        this.dumper = ServerBinary.find("mariadb-dump", "mariadb-server");
    }

    /**
     * Initializes and starts a new MariaDB server on a free port in a new temporary directory.
     *
     * @return the running server; close it
     * @throws IllegalStateException if MariaDB is not installed or did not start
     */
    public static DisposableMariaDb launch() {
        DisposableMariaDb mariaDb = new DisposableMariaDb();
        try {
            mariaDb.start();
            return mariaDb;
        } catch (RuntimeException e) {
            mariaDb.close();
            throw e;
        }
    }

    /** {@code jdbc:mysql://127.0.0.1:PORT/ekko?sslMode=DISABLED}, valid across restarts. */
    public String jdbcUrl() {
        return "jdbc:mysql://127.0.0.1:" + port() + "/" + DATABASE + "?sslMode=DISABLED";
    }

    /** {@value #USER}. */
    public String user() {
        return USER;
    }

    /** The password of {@link #user()}, the same for this server's whole life. */
    public String password() {
        return password;
    }

    /**
     * Writes a logical backup of the test database with {@code mariadb-dump} (one consistent transaction; each table is
     * dropped and created again when the dump is loaded), as an operator's nightly backup would.
     *
     * @param name the file name, in the server's directory
     * @return the dump file
     * @throws IllegalStateException if mariadb-dump fails
     */
    public synchronized Path dump(String name) {
        Path file = directory().resolve(name);
        List<String> command = List.of(dumper.toString(), "--no-defaults", "--socket=" + socket(), "--user=root", "--single-transaction",
                "--databases", DATABASE, "--result-file=" + file);
        for (int attempt = 1; ; attempt++) {
            try {
                helper(command, "mariadb-dump");
                return file;
            } catch (IllegalStateException e) {
                // A table created or altered after the dump's transaction began (clients creating their tables again after
                // the server was emptied) fails it with "Error 1412: Table definition has changed, please retry transaction"
                // (a chaos run's restore fault, right after a wipe): the dump reads only, so it is tried again, as the
                // message says.
                if (attempt >= DUMP_ATTEMPTS) {
                    throw e;
                }
                sleepBeforeRetry();
            }
        }
    }

    private static void sleepBeforeRetry() {
        try {
            Thread.sleep(200);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException("interrupted between attempts of mariadb-dump", e);
        }
    }

    /**
     * Loads a dump written by {@link #dump(String)} into the running server with the {@code mariadb} client: the restore
     * of an older backup while clients are connected.
     *
     * @param dump the dump file
     * @throws IllegalStateException if the client fails
     */
    public synchronized void load(Path dump) {
        helper(List.of(client.toString(), "--no-defaults", "--socket=" + socket(), "--user=root", "--batch",
                "--execute=source " + dump), "mariadb < dump");
    }

    private void helper(List<String> command, String what) {
        try {
            runHelper(command, HELPER_TIMEOUT);
        } catch (IOException e) {
            throw new java.io.UncheckedIOException("could not run " + what + " for " + this, e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException("interrupted while running " + what + " for " + this, e);
        }
    }

    @Override
    List<String> command(Path dataDirectory) {
        List<String> command = new ArrayList<>(List.of(executable().toString(),
                "--no-defaults",
                "--datadir=" + dataDirectory,
                "--socket=" + socket(),
                "--pid-file=" + directory().resolve("mariadbd.pid"),
                "--port=" + port(),
                "--bind-address=127.0.0.1",
                "--skip-name-resolve",
                "--innodb-buffer-pool-size=64M",
                REDO_LOG_SIZE));
        if (isRoot()) {
            // mariadbd refuses to run as root unless told to.
            command.add("--user=root");
        }
        return command;
    }

    @Override
    void prepareDataDirectory(Path dataDirectory) throws IOException, InterruptedException {
        int socketPathBytes = socket().toString().getBytes(StandardCharsets.UTF_8).length;
        if (socketPathBytes > MAX_SOCKET_PATH_BYTES) {
            throw new IllegalStateException("must be at most " + MAX_SOCKET_PATH_BYTES + " bytes, the limit of a"
                    + " Unix socket path: socket=" + socket() + " (" + socketPathBytes + " bytes); set "
                    + DisposableServer.TMPDIR_VARIABLE + " to a shorter directory");
        }
        if (Files.isDirectory(dataDirectory.resolve("mysql"))) {
            return;
        }
        runHelper(List.of(installDb.toString(),
                "--no-defaults",
                "--datadir=" + dataDirectory,
                "--user=" + System.getProperty("user.name"),
                "--auth-root-authentication-method=normal",
                "--skip-test-db",
                REDO_LOG_SIZE), HELPER_TIMEOUT);
    }

    @Override
    boolean isReady() throws InterruptedException {
        return helperSucceeds(List.of(admin.toString(), "--no-defaults", "--socket=" + socket(),
                "--user=root", "--connect-timeout=1", "ping"), PING_TIMEOUT);
    }

    @Override
    void afterStart() throws IOException, InterruptedException {
        String sql = "CREATE DATABASE IF NOT EXISTS `" + DATABASE + "`;"
                + " CREATE USER IF NOT EXISTS '" + USER + "'@'127.0.0.1' IDENTIFIED BY '" + password + "';"
                + " GRANT ALL PRIVILEGES ON *.* TO '" + USER + "'@'127.0.0.1';";
        runHelper(List.of(client.toString(), "--no-defaults", "--socket=" + socket(), "--user=root",
                "--batch", "--execute=" + sql), HELPER_TIMEOUT);
    }

    private Path socket() {
        return directory().resolve("mariadbd.sock");
    }

    private static boolean isRoot() {
        return "root".equals(System.getProperty("user.name"));
    }
}
