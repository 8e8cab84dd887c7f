package dev.ekko.testsupport;

import java.io.File;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Set;

/** Finds a server's executable on {@code PATH} or in the system directories a user's PATH may lack. */
final class ServerBinary {
    /** Debian puts {@code mariadbd} in /usr/sbin, which is not on a normal user's PATH. */
    static final List<String> SYSTEM_DIRECTORIES =
            List.of("/usr/local/sbin", "/usr/local/bin", "/usr/sbin", "/usr/bin", "/sbin", "/bin");

    private ServerBinary() {
    }

    /**
     * The first executable named {@code name} in {@code PATH}, then in {@link #SYSTEM_DIRECTORIES}.
     *
     * @param name the executable, e.g. {@code redis-server}
     * @param debianPackage the Debian package that provides it, for the error message
     * @throws IllegalStateException if there is none
     */
    static Path find(String name, String debianPackage) {
        return find(name, debianPackage, System.getenv("PATH"));
    }

    static Path find(String name, String debianPackage, String pathVariable) {
        List<String> directories = searchDirectories(pathVariable);
        for (String directory : directories) {
            Path candidate = Path.of(directory, name);
            if (Files.isRegularFile(candidate) && Files.isExecutable(candidate)) {
                return candidate;
            }
        }
        throw new IllegalStateException("no executable " + name + " in PATH or " + SYSTEM_DIRECTORIES
                + ": install the Debian package " + debianPackage
                + " (apt-get install -y --no-install-recommends " + debianPackage + "); ./run-tests installs it"
                + " when it runs as root or with passwordless sudo. Searched: " + directories);
    }

    /** PATH extended with the system directories, for the servers' helper programs too. */
    static String searchPath() {
        return String.join(File.pathSeparator, searchDirectories(System.getenv("PATH")));
    }

    private static List<String> searchDirectories(String pathVariable) {
        Set<String> directories = new LinkedHashSet<>();
        if (pathVariable != null) {
            for (String entry : pathVariable.split(File.pathSeparator)) {
                if (!entry.isEmpty()) {
                    directories.add(entry);
                }
            }
        }
        directories.addAll(SYSTEM_DIRECTORIES);
        return new ArrayList<>(directories);
    }
}
