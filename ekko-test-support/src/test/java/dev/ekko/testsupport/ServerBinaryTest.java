package dev.ekko.testsupport;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class ServerBinaryTest {

    @Test
    void missingExecutableNamesItThePackageAndRunTests() {
        IllegalStateException e = assertThrows(IllegalStateException.class,
                () -> ServerBinary.find("ekko-no-such-server", "ekko-no-such-package", ""));

        assertTrue(e.getMessage().startsWith("no executable ekko-no-such-server in PATH or"
                + " [/usr/local/sbin, /usr/local/bin, /usr/sbin, /usr/bin, /sbin, /bin]: install the Debian"
                + " package ekko-no-such-package (apt-get install -y --no-install-recommends ekko-no-such-package);"
                + " ./run-tests installs it"), e.getMessage());
    }

    @Test
    void pathComesBeforeTheSystemDirectories(@TempDir Path directory) throws IOException {
        Path fake = Files.createFile(directory.resolve("sh"),
                PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rwx------")));

        assertEquals(fake, ServerBinary.find("sh", "dash", directory.toString()));
    }

    @Test
    void systemDirectoriesAreSearchedWhenPathLacksThem() {
        assertEquals(Path.of("/usr/bin/env"), ServerBinary.find("env", "coreutils", "/nonexistent"));
    }

    @Test
    void fileWithoutExecutePermissionIsSkipped(@TempDir Path directory) throws IOException {
        Files.createFile(directory.resolve("env"),
                PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rw-------")));

        assertEquals(Path.of("/usr/bin/env"), ServerBinary.find("env", "coreutils", directory.toString()));
    }
}
