package dev.ekko.worker.etcd;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.ekko.Layout;
import dev.ekko.testkit.NextIds;
import dev.ekko.testsupport.TestServers;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * On the module path: jetcd is not modular (jetcd-core has no module name of its own), so ekko-worker-etcd is an automatic
 * module ({@code dev.ekko.worker.etcd}) and the application resolves the rest with {@code --add-modules ALL-MODULE-PATH}, as
 * docs/etcd.md says. With only {@code dev.ekko.core} as root module the child fails (the explicit modules jetcd and
 * ekko-slf4j use are never resolved): the first test shows that the documented flag is needed, the second that it is enough.
 */
class ModulePathIT {

    private static final String PREFIX = TestServers.etcdKeyPrefix(ModulePathIT.class);

    @TempDir
    Path stateDir;

    @AfterAll
    static void deleteKeys() {
        SharedEtcd.deleteKeys(PREFIX);
    }

    @Test
    void withOnlyTheCoreAsRootModuleItDoesNotStart() throws IOException, InterruptedException {
        Result r = run(NextIds.modulePathCommand(settings(), 3), "without");
        assertTrue(r.exit() != 0 && r.stderr().contains("ClassNotFoundException"), r.out() + r.stderr());
    }

    @Test
    void runsOnTheModulePathWithAllModulesAdded() throws IOException, InterruptedException {
        List<String> cmd = new ArrayList<>(NextIds.modulePathCommand(settings(), 3));
        assertTrue(cmd.get(2).contains("jetcd-core-") && cmd.get(2).contains("grpc-netty-"), cmd.get(2));
        cmd.set(cmd.indexOf("--add-modules") + 1, "ALL-MODULE-PATH");
        Result r = run(cmd, "with");
        assertEquals(0, r.exit(), r.out() + r.stderr());
        assertFalse(r.stderr().contains("SLF4J"), r.stderr());
        String[] lines = r.out().strip().split("\n");
        assertEquals(3, lines.length, r.out() + r.stderr());
        for (String line : lines) {
            Layout.parse(line);
        }
    }

    private record Result(int exit, String out, String stderr) {
    }

    private Result run(List<String> cmd, String name) throws IOException, InterruptedException {
        Path err = stateDir.resolve(name + "-stderr.txt");
        Process p = new ProcessBuilder(cmd).redirectError(err.toFile()).start();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertTrue(p.waitFor(60, TimeUnit.SECONDS), "did not finish");
        return new Result(p.exitValue(), out, Files.readString(err));
    }

    private Map<String, String> settings() {
        Map<String, String> settings = NextIds.shortLeaseSettings("etcd", stateDir);
        settings.put("ekko.etcd.endpoints", SharedEtcd.endpoints());
        settings.put("ekko.etcd.namespace", PREFIX + "module-path");
        return settings;
    }
}
