package dev.ekko.internal;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.lang.reflect.Field;
import java.lang.reflect.Method;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

/**
 * The preload's one initialization: the JDK's map modes (about 8 ms of a cold JVM's first {@code FileChannel.map}, a method
 * handle built by their initializer), done on the preload thread so that the caller's first map finds them ready. Checked in
 * a fresh JVM: in this one, any earlier test that mapped a file has initialized them already.
 */
class ClassPreloadTest {

    /** Prints whether the map modes were initialized before the preload and after its thread ended. */
    public static final class Child {
        public static void main(String[] args) throws Exception {
            Field f = Class.forName("sun.misc.Unsafe").getDeclaredField("theUnsafe");
            f.setAccessible(true);
            Object unsafe = f.get(null);
            Method shouldBeInitialized = unsafe.getClass().getMethod("shouldBeInitialized", Class.class);
            Class<?> modes = Class.forName(ClassPreload.MAP_MODES, false, null);
            boolean before = !(Boolean) shouldBeInitialized.invoke(unsafe, modes);
            ClassPreload.start();
            for (Thread t : Thread.getAllStackTraces().keySet()) {
                if (t.getName().equals("ekko-class-preload")) {
                    t.join(10_000);
                }
            }
            boolean after = !(Boolean) shouldBeInitialized.invoke(unsafe, modes);
            System.out.println("before=" + before + " after=" + after);
        }
    }

    @Test
    void initializesTheJdksMapModesBeforeTheCallersFirstMap() throws Exception {
        Process p = new ProcessBuilder(Path.of(System.getProperty("java.home"), "bin", "java").toString(), "-cp",
                System.getProperty("java.class.path"), Child.class.getName()).redirectErrorStream(true).start();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8).trim();
        p.waitFor(30, TimeUnit.SECONDS);
        assertEquals("before=false after=true", out);
    }
}
