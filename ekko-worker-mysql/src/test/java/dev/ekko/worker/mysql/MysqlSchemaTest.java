package dev.ekko.worker.mysql;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;

/** The DDL a DBA copies from docs/mysql.md is the DDL the module runs. */
class MysqlSchemaTest {

    @Test
    void theDocumentedDdlIsTheModulesDdl() throws Exception {
        String docs = Files.readString(Path.of(System.getProperty("user.dir")).getParent().resolve("docs/mysql.md"));
        int start = docs.indexOf("```sql\nCREATE TABLE IF NOT EXISTS `ekko_worker_ids`");
        int end = docs.indexOf("```", start + 6);
        String documented = docs.substring(start + "```sql\n".length(), end).strip();
        assertEquals(String.join(";\n\n", new MysqlSchema("ekko_worker_ids").ddl()) + ";", documented);
    }
}
