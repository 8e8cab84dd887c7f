package dev.ekko.worker.etcd;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.ekko.EkkoException;
import dev.ekko.IdGenerator;
import dev.ekko.testsupport.DisposableEtcd;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Authentication on, on an etcd of the test's own: the role docs/etcd.md documents (read and write on the namespace's
 * prefix only, read from that file) is enough to run a generator; a wrong password, a user without the role and an endpoint
 * nothing answers on each give one clear error within the timeout, the password never shown.
 */
class EtcdAuthIT {

    private static final String ROOT_PASSWORD = "Root-pw-4d1f";
    private static final String PASSWORD = "Ids-pw-93ac";

    @TempDir
    Path stateDir;

    private static void etcdctl(DisposableEtcd etcd, String... args) throws Exception {
        List<String> cmd = new ArrayList<>(List.of("etcdctl", "--endpoints=" + etcd.endpoint()));
        cmd.addAll(List.of(args));
        ProcessBuilder pb = new ProcessBuilder(cmd).redirectErrorStream(true);
        pb.environment().put("ETCDCTL_API", "3");
        Process p = pb.start();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertTrue(p.waitFor(30, TimeUnit.SECONDS), "etcdctl hung: " + cmd);
        assertEquals(0, p.exitValue(), String.join(" ", cmd) + ": " + out);
    }

    /** {@return the etcdctl lines of docs/etcd.md's "Authentication" section, with the role's commands} */
    private static List<String> documentedRoleCommands() throws Exception {
        Path docs = Path.of(System.getProperty("user.dir")).getParent().resolve("docs/etcd.md");
        List<String> lines = Files.readAllLines(docs).stream().map(String::strip).filter(l -> l.startsWith("etcdctl --user root"))
                .toList();
        assertEquals(4, lines.size(), "docs/etcd.md's role commands changed: " + lines);
        return lines;
    }

    @Test
    void theDocumentedRoleIsEnoughAndBadCredentialsAreOneClearError() throws Exception {
        try (DisposableEtcd etcd = DisposableEtcd.launch()) {
            etcdctl(etcd, "user", "add", "root:" + ROOT_PASSWORD);
            etcdctl(etcd, "auth", "enable");
            for (String line : documentedRoleCommands()) {
                String[] words = line.replace("ROOT_PASSWORD", ROOT_PASSWORD).replace("PASSWORD", PASSWORD).split("\\s+");
                etcdctl(etcd, java.util.Arrays.copyOfRange(words, 1, words.length));
            }
            etcdctl(etcd, "--user", "root:" + ROOT_PASSWORD, "user", "add", "norole:" + PASSWORD);

            try (IdGenerator ids = FastGenerators.builder(etcd.endpoint(), "ids", stateDir.resolve("a"), "a")
                    .setting("ekko.etcd.user", "ids").setting("ekko.etcd.password", PASSWORD).build()) {
                long first = ids.next();
                Thread.sleep(800); // a few renewals
                assertTrue(Long.compareUnsigned(ids.next(), first) > 0);
            }

            EkkoException wrong = assertThrows(EkkoException.class, () -> FastGenerators.builder(etcd.endpoint(), "ids",
                    stateDir.resolve("b"), "b").setting("ekko.etcd.user", "ids").setting("ekko.etcd.password", "not-" + PASSWORD)
                    .build().close());
            assertTrue(wrong.getMessage().startsWith("etcd at etcd " + etcd.endpoint() + " namespace ids refused user ids while"
                    + " acquiring a worker ID of idc=1"), wrong.getMessage());
            assertTrue(wrong.getMessage().endsWith("(check ekko.etcd.user and ekko.etcd.password)"), wrong.getMessage());
            assertFalse(wrong.getMessage().contains(PASSWORD), wrong.getMessage());

            EkkoException denied = assertThrows(EkkoException.class, () -> FastGenerators.builder(etcd.endpoint(), "ids",
                    stateDir.resolve("c"), "c").setting("ekko.etcd.user", "norole").setting("ekko.etcd.password", PASSWORD)
                    .build().close());
            assertTrue(denied.getMessage().contains("denied a permission while acquiring a worker ID of idc=1"), denied.getMessage());
            assertTrue(denied.getMessage().endsWith("(docs/etcd.md lists the role the user needs)"), denied.getMessage());
            assertFalse(denied.getMessage().contains(PASSWORD), denied.getMessage());
        }
    }

    @Test
    void anEndpointNothingAnswersOnFailsWithinTheTimeout() {
        long t0 = System.nanoTime();
        EkkoException e = assertThrows(EkkoException.class, () -> FastGenerators.builder("http://127.0.0.1:1", "ids",
                stateDir.resolve("d"), "d").build().close());
        long ms = (System.nanoTime() - t0) / 1_000_000;
        assertTrue(e.getMessage().startsWith("cannot reach etcd at etcd http://127.0.0.1:1 namespace ids within ekko.etcd.timeout=500ms"
                + " while acquiring a worker ID of idc=1"), e.getMessage());
        assertTrue(ms < 5000, "took " + ms + " ms");
    }
}
