package dev.ekko.spring.sample;

import dev.ekko.IdGenerator;
import dev.ekko.Layout;
import org.springframework.boot.SpringApplication;
import org.springframework.boot.autoconfigure.SpringBootApplication;
import org.springframework.http.MediaType;
import org.springframework.web.bind.annotation.GetMapping;
import org.springframework.web.bind.annotation.RestController;

/**
 * A web application that hands out IDs: {@code GET /id} returns one as a JSON string ({@code "8461329718149120"}), a
 * string because IDs are unsigned 64-bit numbers, beyond what a JavaScript number holds exactly. The generator is the
 * starter's, configured in {@code application.yml}.
 */
@SpringBootApplication
@RestController
public class SampleApplication {

    private final IdGenerator ids;

    /**
     * @param ids the generator the starter built
     */
    public SampleApplication(IdGenerator ids) {
        this.ids = ids;
    }

    /**
     * Starts the application.
     *
     * @param args Spring Boot's arguments ({@code --ekko.worker.id=5}...)
     */
    public static void main(String[] args) {
        SpringApplication.run(SampleApplication.class, args);
    }

    /** {@return a new ID, in decimal, as a JSON string} */
    @GetMapping(path = "/id", produces = MediaType.APPLICATION_JSON_VALUE)
    public String id() {
        return '"' + Layout.format(ids.next()) + '"';
    }
}
