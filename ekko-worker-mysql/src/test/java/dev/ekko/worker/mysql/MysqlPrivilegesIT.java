package dev.ekko.worker.mysql;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.ekko.EkkoException;
import dev.ekko.IdGenerator;
import dev.ekko.testsupport.DisposableMariaDb;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The grant docs/mysql.md documents, read from that file and given to a user on a MariaDB of the test's own (as root, over
 * its socket), on tables created with the documented DDL: enough to run a generator; a user lacking one privilege gets a clear
 * error.
 */
class MysqlPrivilegesIT {

    @TempDir
    Path stateDir;

    /** Runs SQL as root over the server's socket, which lies beside its log file. */
    private static void asRoot(DisposableMariaDb db, String sql) throws Exception {
        Path socket = db.logFile().getParent().resolve("mariadbd.sock");
        Process p = new ProcessBuilder("mariadb", "--no-defaults", "--socket=" + socket, "--user=root", "--batch", "--execute=" + sql)
                .redirectErrorStream(true).start();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertTrue(p.waitFor(30, TimeUnit.SECONDS), "mariadb client hung");
        assertEquals(0, p.exitValue(), out);
    }

    /** {@return the GRANT lines of docs/mysql.md's Permissions section} */
    private static List<String> documentedGrants() throws Exception {
        Path docs = Path.of(System.getProperty("user.dir")).getParent().resolve("docs/mysql.md");
        List<String> grants = Files.readAllLines(docs).stream().filter(l -> l.startsWith("GRANT SELECT, INSERT, UPDATE ON ids.")).toList();
        assertEquals(3, grants.size(), "docs/mysql.md's grant changed: " + grants);
        return grants;
    }

    private static Map<String, String> settings(DisposableMariaDb db, String user) {
        return Map.of("ekko.mysql.url", "jdbc:mysql://127.0.0.1:" + db.port() + "/ids?sslMode=DISABLED", "ekko.mysql.user", user,
                "ekko.mysql.password", "pw-" + user);
    }

    @Test
    void theDocumentedGrantIsEnoughAndALackingOneIsNamed() throws Exception {
        try (DisposableMariaDb db = DisposableMariaDb.launch()) {
            // The DBA creates the tables with the documented DDL (table-level grants need them to exist); the user gets no CREATE.
            StringBuilder sql = new StringBuilder("CREATE DATABASE ids; USE ids;");
            for (String ddl : new MysqlSchema("ekko_worker_ids").ddl()) {
                sql.append(' ').append(ddl).append(';');
            }
            sql.append(" CREATE USER 'ids'@'%' IDENTIFIED BY 'pw-ids'; CREATE USER 'noupdate'@'%' IDENTIFIED BY 'pw-noupdate';");
            for (String grant : documentedGrants()) {
                sql.append(' ').append(grant);
                sql.append(' ').append(grant.replace(", UPDATE", "").replace("'ids'@", "'noupdate'@"));
            }
            asRoot(db, sql.toString());

            try (IdGenerator ids = FastGenerators.builder(settings(db, "ids"), stateDir.resolve("a"), "a").build()) {
                long first = ids.next();
                Thread.sleep(800); // a few renewals
                assertTrue(Long.compareUnsigned(ids.next(), first) > 0);
            }
            EkkoException e = assertThrows(EkkoException.class,
                    () -> FastGenerators.builder(settings(db, "noupdate"), stateDir.resolve("b"), "b").build().close());
            assertTrue(e.getMessage().contains("denied a privilege while acquiring a worker ID of idc=1"), e.getMessage());
            assertTrue(e.getMessage().contains("UPDATE command denied"), e.getMessage());
            assertTrue(e.getMessage().endsWith("(docs/mysql.md lists the privileges the user needs)"), e.getMessage());
            assertTrue(!e.getMessage().contains("pw-noupdate"), e.getMessage());
        }
    }

    /** {@return the one GRANT line of docs/mysql.md for a user that lets the module create its tables} */
    private static String documentedCreatingGrant() throws Exception {
        Path docs = Path.of(System.getProperty("user.dir")).getParent().resolve("docs/mysql.md");
        List<String> grants = Files.readAllLines(docs).stream().filter(l -> l.startsWith("GRANT SELECT, INSERT, UPDATE, CREATE ON ids.*"))
                .toList();
        assertEquals(1, grants.size(), "docs/mysql.md's creating grant changed: " + grants);
        return grants.get(0);
    }

    @Test
    void theDocumentedCreatingGrantLetsTheModuleMakeItsTables() throws Exception {
        try (DisposableMariaDb db = DisposableMariaDb.launch()) {
            asRoot(db, "CREATE DATABASE ids; CREATE USER 'ids'@'%' IDENTIFIED BY 'pw-ids'; " + documentedCreatingGrant());
            try (IdGenerator ids = FastGenerators.builder(settings(db, "ids"), stateDir.resolve("c"), "c").build()) {
                long first = ids.next();
                Thread.sleep(800); // a few renewals
                assertTrue(Long.compareUnsigned(ids.next(), first) > 0);
            }
            // And it made exactly the documented tables.
            asRoot(db, "USE ids; SELECT COUNT(*) FROM ekko_worker_ids; SELECT COUNT(*) FROM ekko_worker_ids_settings;"
                    + " SELECT generation FROM ekko_worker_ids_meta");
        }
    }
}
