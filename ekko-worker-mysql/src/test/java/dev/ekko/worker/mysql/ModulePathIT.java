package dev.ekko.worker.mysql;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.ekko.Layout;
import dev.ekko.testkit.NextIds;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The module descriptor is real: on the module path, with only the core as root module, the core finds the mysql allocator
 * through {@code provides}, its {@code requires} bring HikariCP and SLF4J, and java.sql's {@code uses java.sql.Driver} binds
 * mysql-connector-j (an automatic module with no name of its own, {@code mysql.connector.j}) without an
 * {@code --add-modules} for it.
 */
class ModulePathIT {

    private static SharedMysql db;

    @TempDir
    Path stateDir;

    @BeforeAll
    static void createDatabase() {
        db = SharedMysql.create(ModulePathIT.class);
    }

    @AfterAll
    static void dropDatabase() {
        db.close();
    }

    @Test
    void runsOnTheModulePathAndFindsTheMysqlAllocatorAndTheDriver() throws IOException, InterruptedException {
        Map<String, String> settings = NextIds.shortLeaseSettings("mysql", stateDir);
        settings.putAll(db.settings("module-path"));
        List<String> cmd = NextIds.modulePathCommand(settings, 3);
        assertTrue(cmd.get(2).contains("mysql-connector-j-") && cmd.get(2).contains("HikariCP-"), cmd.get(2));
        Path err = stateDir.resolve("stderr.txt");
        Process p = new ProcessBuilder(cmd).redirectError(err.toFile()).start();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertTrue(p.waitFor(60, TimeUnit.SECONDS), "did not finish");
        String stderr = Files.readString(err);
        assertEquals(0, p.exitValue(), out + stderr);
        // No SLF4J provider on this module path: HikariCP's logging goes to System.Logger, without SLF4J's warning.
        assertFalse(stderr.contains("SLF4J"), stderr);
        assertFalse(stderr.contains(db.database.password()), stderr);
        String[] lines = out.strip().split("\n");
        assertEquals(3, lines.length, out + stderr);
        for (String line : lines) {
            Layout.parse(line);
        }
    }
}
