package dev.ekko.spring.boot3;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.ekko.DecodedId;
import dev.ekko.IdGenerator;
import dev.ekko.Layout;
import dev.ekko.spring.boot.EkkoBoot3HealthIndicator;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.springframework.beans.factory.annotation.Autowired;
import org.springframework.beans.factory.annotation.Qualifier;
import org.springframework.boot.SpringBootVersion;
import org.springframework.boot.test.context.SpringBootTest;
import org.springframework.context.ApplicationContext;
import org.springframework.core.env.Environment;
import org.springframework.test.context.DynamicPropertyRegistry;
import org.springframework.test.context.DynamicPropertySource;

/** The starter in a Spring Boot 3 web application with the actuator, called over HTTP. */
@SpringBootTest(webEnvironment = SpringBootTest.WebEnvironment.RANDOM_PORT)
class Boot3ApplicationTest {

    @TempDir
    static Path dir;

    private final HttpClient http = HttpClient.newHttpClient();

    @Autowired
    Environment environment;

    @Autowired
    ApplicationContext context;

    @Autowired
    IdGenerator generator;

    @Autowired
    @Qualifier("ordersIdGenerator")
    IdGenerator orders;

    @DynamicPropertySource
    static void directories(DynamicPropertyRegistry registry) {
        registry.add("ekko.state.dir", () -> dir.resolve("state").toString());
        registry.add("ekko.host.lock.dir", () -> dir.resolve("locks").toString());
    }

    private HttpResponse<String> get(String path) throws Exception {
        URI uri = URI.create("http://localhost:" + environment.getProperty("local.server.port") + path);
        return http.send(HttpRequest.newBuilder(uri).build(), HttpResponse.BodyHandlers.ofString());
    }

    @Test
    void runsOnSpringBoot3() {
        assertThat(SpringBootVersion.getVersion()).startsWith("3.");
    }

    @Test
    void theGeneratorAndTheProductBeanIssueWithTheConfiguredWorkerAndIdc() throws Exception {
        String body = get("/id").body();
        assertThat(body).matches("\"[0-9]+\"");
        DecodedId id = generator.layout().decode(Layout.parse(body.replace("\"", "")));
        assertThat(id.worker()).isEqualTo(17);
        assertThat(id.idc()).isEqualTo(2);
        assertThat(generator.layout().decode(orders.next()).product()).isEqualTo(1);
    }

    @Test
    void healthShowsTheEkkoComponentUpThroughTheBoot3Indicator() throws Exception {
        assertThat(context.getBean("ekkoHealthIndicator")).isInstanceOf(EkkoBoot3HealthIndicator.class);
        HttpResponse<String> response = get("/actuator/health");
        JsonNode ekko = new ObjectMapper().readTree(response.body()).path("components").path("ekko");
        assertThat(ekko.path("status").asText()).as(response.body()).isEqualTo("UP");
        assertThat(ekko.path("details").path("state").asText()).isEqualTo("LIVE");
        assertThat(ekko.path("details").path("workerId").asInt()).isEqualTo(17);
        assertThat(ekko.path("details").path("idc").asInt()).isEqualTo(2);
    }

    @Test
    void metricsShowTheGeneratorLive() throws Exception {
        HttpResponse<String> response = get("/actuator/metrics/ekko.generator.live");
        assertThat(response.statusCode()).as(response.body()).isEqualTo(200);
        assertThat(new ObjectMapper().readTree(response.body()).path("measurements").path(0).path("value").asDouble()).isEqualTo(1.0);
    }
}
