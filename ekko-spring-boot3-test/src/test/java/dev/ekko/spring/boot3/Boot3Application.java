package dev.ekko.spring.boot3;

import dev.ekko.IdGenerator;
import dev.ekko.Layout;
import org.springframework.boot.autoconfigure.SpringBootApplication;
import org.springframework.http.MediaType;
import org.springframework.web.bind.annotation.GetMapping;
import org.springframework.web.bind.annotation.RestController;

/** The sample's application, on Spring Boot 3. */
@SpringBootApplication
@RestController
class Boot3Application {

    private final IdGenerator ids;

    Boot3Application(IdGenerator ids) {
        this.ids = ids;
    }

    @GetMapping(path = "/id", produces = MediaType.APPLICATION_JSON_VALUE)
    String id() {
        return '"' + Layout.format(ids.next()) + '"';
    }
}
