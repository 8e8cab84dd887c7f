package dev.ekko.worker.mysql;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.ekko.Ekko;
import dev.ekko.EkkoException;
import dev.ekko.IdGenerator;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.file.Path;
import java.time.Duration;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Bad URL, closed port, a silent server, an address nothing answers on, a wrong password, a table of the wrong shape: one
 * clear error each at {@code build()}, within the timeout, never showing the password.
 */
class MysqlConnectionFailureIT {

    private static final Duration TIMEOUT = Duration.ofMillis(500);
    /** The pool waits for the timeout; the driver's own connect timeout may add one more. */
    private static final Duration SLACK = Duration.ofMillis(2500);
    private static final String SECRET = "s3cret-Pa55-never-shown";

    private static SharedMysql db;

    @TempDir
    Path stateDir;

    @BeforeAll
    static void createDatabase() {
        db = SharedMysql.create(MysqlConnectionFailureIT.class);
    }

    @AfterAll
    static void dropDatabase() {
        db.close();
    }

    private Ekko.Builder builder(String url, String user, String password) {
        Ekko.Builder b = Ekko.newBuilder().allocator("mysql").setting("ekko.mysql.url", url).setting("ekko.mysql.timeout", "500ms")
                .stateDirectory(stateDir).leaseTtl(Duration.ofSeconds(2)).leaseMargin(Duration.ofMillis(500))
                .reportInterval(Duration.ofMillis(300)).reservation(Duration.ofSeconds(1)).maxClockSkew(Duration.ofMillis(200));
        if (user != null) {
            b.setting("ekko.mysql.user", user);
        }
        if (password != null) {
            b.setting("ekko.mysql.password", password);
        }
        return b;
    }

    private static <T extends RuntimeException> T failsWithin(Class<T> type, Ekko.Builder builder, String... secrets) {
        long start = System.nanoTime();
        T e = assertThrows(type, () -> builder.build().close());
        long took = System.nanoTime() - start;
        assertTrue(took < TIMEOUT.plus(SLACK).toNanos(), "took " + took / 1_000_000 + " ms: " + e.getMessage());
        StringWriter trace = new StringWriter();
        e.printStackTrace(new PrintWriter(trace));
        for (String secret : secrets) {
            assertFalse(trace.toString().contains(secret), "the password shows in the error or its causes:\n" + trace);
        }
        return e;
    }

    @Test
    void aMalformedUrlIsRefusedAtBuildNamingTheKeyButNotThePassword() {
        IllegalArgumentException scheme = failsWithin(IllegalArgumentException.class,
                builder("mysql://u:" + SECRET + "@127.0.0.1/ids", null, null), SECRET);
        assertTrue(scheme.getMessage().startsWith("must be a MySQL Connector/J URL jdbc:mysql://host[:port]/database"),
                scheme.getMessage());
        assertTrue(scheme.getMessage().endsWith(": ekko.mysql.url=mysql://u:***@127.0.0.1/ids"), scheme.getMessage());
        IllegalArgumentException noDatabase = failsWithin(IllegalArgumentException.class,
                builder("jdbc:mysql://127.0.0.1:3306?user=u&password=" + SECRET, null, null), SECRET);
        assertTrue(noDatabase.getMessage().startsWith("must name a database after the host"), noDatabase.getMessage());
        assertTrue(noDatabase.getMessage().endsWith("ekko.mysql.url=jdbc:mysql://127.0.0.1:3306?user=u&password=***"),
                noDatabase.getMessage());
        IllegalArgumentException pool = failsWithin(IllegalArgumentException.class,
                builder(db.database.jdbcUrl(), null, SECRET).setting("ekko.mysql.pool.size", "0"), SECRET);
        assertTrue(pool.getMessage().contains("ekko.mysql.pool.size=0"), pool.getMessage());
        IllegalArgumentException timeout = failsWithin(IllegalArgumentException.class,
                builder(db.database.jdbcUrl(), null, SECRET).setting("ekko.mysql.timeout", "10ms"), SECRET);
        assertEquals("must be >= 250ms && <= 1m: ekko.mysql.timeout=10ms", timeout.getMessage());
        IllegalArgumentException table = failsWithin(IllegalArgumentException.class,
                builder(db.database.jdbcUrl(), null, SECRET).setting("ekko.mysql.table", "ids; DROP TABLE x"), SECRET);
        assertTrue(table.getMessage().endsWith("ekko.mysql.table=\"ids; DROP TABLE x\""), table.getMessage());
    }

    @Test
    void aMissingUrlNamesTheKeyAndItsEnvironmentVariable() {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> Ekko.newBuilder().allocator("mysql")
                .stateDirectory(stateDir).build().close());
        assertTrue(e.getMessage().contains("ekko.mysql.url (environment variable EKKO_MYSQL_URL)"), e.getMessage());
    }

    @Test
    void aClosedPortFailsWithinTheTimeoutNamingTheDatabase() throws Exception {
        int port;
        try (ServerSocket s = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
            port = s.getLocalPort();
        }
        String url = "jdbc:mysql://127.0.0.1:" + port + "/ids?password=" + SECRET;
        EkkoException e = failsWithin(EkkoException.class, builder(url, "u", null), SECRET);
        assertTrue(e.getMessage().startsWith("cannot reach MySQL at mysql jdbc:mysql://127.0.0.1:" + port + "/ids?password=***"
                + " table ekko_worker_ids namespace ekko within ekko.mysql.timeout=500ms while acquiring a worker ID of idc=0"),
                e.getMessage());
    }

    @Test
    void aServerThatNeverAnswersFailsWithinTheTimeout() throws Exception {
        try (ServerSocket silent = new ServerSocket(0, 50, InetAddress.getLoopbackAddress())) {
            Thread acceptor = new Thread(() -> {
                try {
                    while (true) {
                        Socket s = silent.accept(); // accepted and never answered
                        s.getInputStream();
                    }
                } catch (Exception done) {
                    // closed
                }
            });
            acceptor.setDaemon(true);
            acceptor.start();
            EkkoException e = failsWithin(EkkoException.class, builder("jdbc:mysql://127.0.0.1:" + silent.getLocalPort() + "/ids",
                    "u", SECRET), SECRET);
            assertTrue(e.getMessage().startsWith("cannot reach MySQL at mysql jdbc:mysql://127.0.0.1:" + silent.getLocalPort()),
                    e.getMessage());
        }
    }

    @Test
    void anAddressNothingAnswersOnFailsWithinTheTimeout() {
        EkkoException e = failsWithin(EkkoException.class, builder("jdbc:mysql://192.0.2.1:3306/ids", "u", SECRET), SECRET);
        assertTrue(e.getMessage().startsWith("cannot reach MySQL at mysql jdbc:mysql://192.0.2.1:3306/ids"), e.getMessage());
    }

    @Test
    void aWrongPasswordIsRefusedNamingTheUserButNotThePassword() {
        EkkoException e = failsWithin(EkkoException.class, builder(db.database.jdbcUrl(), db.database.user(), SECRET), SECRET);
        assertTrue(e.getMessage().startsWith("MySQL at mysql " + db.database.jdbcUrl() + " table ekko_worker_ids namespace ekko"
                + " refused user " + db.database.user() + " while acquiring a worker ID of idc=0"), e.getMessage());
        assertTrue(e.getMessage().contains("Access denied"), e.getMessage());
        assertTrue(e.getMessage().endsWith("(check ekko.mysql.user and ekko.mysql.password)"), e.getMessage());
    }

    @Test
    void aTableOfAnotherShapeIsRefusedNamingWhatDiffers() throws Exception {
        db.execute("CREATE TABLE wrong_shape (namespace VARCHAR(100) NOT NULL, idc INT NOT NULL, worker SMALLINT NOT NULL,"
                + " PRIMARY KEY (namespace, idc, worker))");
        EkkoException e = failsWithin(EkkoException.class, builder(db.database.jdbcUrl(), db.database.user(), db.database.password())
                .setting("ekko.mysql.table", "wrong_shape"), db.database.password());
        assertTrue(e.getMessage().startsWith("refusing to use the tables at mysql " + db.database.jdbcUrl() + " table wrong_shape"
                + " namespace ekko: they exist with another shape than ekko-worker-mysql's: "), e.getMessage());
        assertTrue(e.getMessage().contains("wrong_shape.idc is int, not tinyint"), e.getMessage());
        assertTrue(e.getMessage().contains("wrong_shape.token is missing"), e.getMessage());
        assertTrue(e.getMessage().endsWith("create them with the DDL in docs/mysql.md"), e.getMessage());
    }

    /**
     * A DBA's tables with every column right but no primary key on the worker-ID table: two acquirers' inserts of one worker
     * ID would both succeed and both hold it. Refused, naming the key.
     */
    @Test
    void aWorkerTableWithoutItsPrimaryKeyIsRefused() throws Exception {
        for (String ddl : new MysqlSchema("no_key").ddl()) {
            db.execute(ddl.replace("  PRIMARY KEY (namespace, idc, worker),\n", ""));
        }
        EkkoException e = failsWithin(EkkoException.class, builder(db.database.jdbcUrl(), db.database.user(), db.database.password())
                .setting("ekko.mysql.table", "no_key"), db.database.password());
        assertTrue(e.getMessage().startsWith("refusing to use the tables at mysql " + db.database.jdbcUrl() + " table no_key"
                + " namespace ekko: they exist with another shape than ekko-worker-mysql's: no_key has no primary key or unique index"
                + " on exactly (idc, namespace, worker)."), e.getMessage());
        assertEquals(0, db.count("SELECT COUNT(*) FROM no_key"), "nothing was written");
    }

    @Test
    void theRightCredentialsWork() {
        try (IdGenerator ids = builder(db.database.jdbcUrl(), db.database.user(), db.database.password())
                .setting("ekko.mysql.namespace", "right").build()) {
            long a = ids.next();
            assertTrue(Long.compareUnsigned(ids.next(), a) > 0);
        }
    }
}
