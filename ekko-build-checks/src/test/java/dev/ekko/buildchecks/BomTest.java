package dev.ekko.buildchecks;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import javax.xml.parsers.DocumentBuilderFactory;
import org.junit.jupiter.api.Test;
import org.w3c.dom.Document;
import org.w3c.dom.Element;
import org.w3c.dom.NodeList;

/** The POM that ekko-bom installs and deploys: what a user importing it gets. */
class BomTest {

    private static final Path BOM = Path.of(System.getProperty("user.dir")).getParent()
            .resolve("ekko-bom/target/flattened-pom.xml");

    private static Document bom() throws Exception {
        assertTrue(Files.isRegularFile(BOM), "not built: " + BOM + " (build ekko-bom first)");
        DocumentBuilderFactory f = DocumentBuilderFactory.newInstance();
        f.setNamespaceAware(false);
        return f.newDocumentBuilder().parse(BOM.toFile());
    }

    private static String text(Element e, String child) {
        NodeList l = e.getElementsByTagName(child);
        return l.getLength() == 0 ? null : l.item(0).getTextContent().trim();
    }

    @Test
    void managesExactlyThePublishedModulesAtItsOwnVersion() throws Exception {
        Document d = bom();
        Element root = d.getDocumentElement();
        Element management = (Element) root.getElementsByTagName("dependencyManagement").item(0);
        NodeList deps = management.getElementsByTagName("dependency");
        List<String> managed = new ArrayList<>();
        for (int i = 0; i < deps.getLength(); i++) {
            Element dep = (Element) deps.item(i);
            managed.add(text(dep, "groupId") + ":" + text(dep, "artifactId") + ":" + text(dep, "version"));
        }
        assertEquals(List.of("dev.ekko:ekko-core:${project.version}", "dev.ekko:ekko-worker-redis:${project.version}",
                "dev.ekko:ekko-worker-mysql:${project.version}", "dev.ekko:ekko-worker-etcd:${project.version}",
                "dev.ekko:ekko-slf4j:${project.version}", "dev.ekko:ekko-testkit:${project.version}",
                "dev.ekko:ekko-client:${project.version}", "dev.ekko:ekko-micrometer:${project.version}",
                "dev.ekko:ekko-spring-boot-starter:${project.version}"), managed);
    }

    @Test
    void hasNoParentSoTheBuildsThirdPartyManagementStaysOut() throws Exception {
        Element root = bom().getDocumentElement();
        assertEquals(0, root.getElementsByTagName("parent").getLength(), "the installed BOM names a parent");
        String pom = Files.readString(BOM);
        // SLF4J's group, not the word: Ekko's own ekko-slf4j belongs in the BOM.
        assertFalse(pom.contains("jedis") || pom.contains("HikariCP") || pom.contains("mysql-connector") || pom.contains("junit") || pom.contains("org.slf4j") || pom.contains("jmh"),
                "third-party artifacts in the BOM:\n" + pom);
    }

    @Test
    void carriesTheMetadataCentralRequires() throws Exception {
        Element root = bom().getDocumentElement();
        assertEquals("dev.ekko", text(root, "groupId"));
        assertEquals("ekko-bom", text(root, "artifactId"));
        assertFalse(text(root, "version").isEmpty());
        assertEquals("pom", text(root, "packaging"));
        for (String required : List.of("name", "description", "url")) {
            String value = text(root, required);
            assertTrue(value != null && !value.isEmpty(), "missing <" + required + ">");
        }
        Element license = (Element) root.getElementsByTagName("license").item(0);
        assertEquals("Apache-2.0", text(license, "name"));
        assertTrue(root.getElementsByTagName("developer").getLength() > 0, "missing <developers>");
        Element scm = (Element) root.getElementsByTagName("scm").item(0);
        assertTrue(text(scm, "url") != null && text(scm, "connection") != null, "incomplete <scm>");
    }
}
