package dev.ekko.cli;

import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.stream.Collectors;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;

/** The runnable jar holds every back end: each ekko-worker-* module of the repository is a dependency of ekko-cli. */
class CliModuleTest {

    @Test
    void everyBackEndModuleIsADependency() throws IOException {
        Path repository = Path.of("..").toAbsolutePath().normalize();
        String pom = Files.readString(Path.of("pom.xml"));
        List<String> backEnds;
        try (Stream<Path> dirs = Files.list(repository)) {
            backEnds = dirs.filter(d -> d.getFileName().toString().startsWith("ekko-worker-") && Files.exists(d.resolve("pom.xml")))
                    .map(d -> d.getFileName().toString()).sorted().collect(Collectors.toList());
        }
        assertFalse(backEnds.isEmpty(), "no ekko-worker-* module in " + repository);
        for (String module : backEnds) {
            assertTrue(pom.contains("<artifactId>" + module + "</artifactId>"), module + " is not a dependency of ekko-cli/pom.xml");
        }
    }
}
