package dev.ekko.worker.mysql;

import java.lang.reflect.InvocationHandler;
import java.lang.reflect.InvocationTargetException;
import java.lang.reflect.Method;
import java.lang.reflect.Proxy;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.SQLException;
import java.util.ArrayList;
import java.util.List;
import javax.sql.DataSource;

/**
 * A data source whose connections run test hooks around what the allocator sends: the review tests use it to stall a process
 * at a chosen point of a transaction (a GC pause, or a partition: the server keeps the transaction and its locks), or to lose
 * a reply. Each hook runs on the calling thread.
 */
final class HookedDataSource {

    private HookedDataSource() {
    }

    /** What a hooked connection does; override what a test needs. */
    abstract static class Hooks {
        /** After a prepared statement's executeQuery returned. */
        void afterQuery(String sql) throws InterruptedException {
        }

        /** Before commit or rollback, with the statements prepared since the last one. */
        void beforeEnd(String method, List<String> transaction) throws InterruptedException {
        }

        /** After commit or rollback was applied, before its caller sees the reply (throw to lose the reply). */
        void afterEnd(String method) throws SQLException {
        }
    }

    /** {@return whether a transaction's statements are an acquire's: a locking read or an insert of a worker row} */
    static boolean acquiring(List<String> transaction) {
        return transaction.stream().anyMatch(sql -> sql.contains("SKIP LOCKED") || sql.startsWith("INSERT IGNORE INTO `ekko_worker_ids`"));
    }

    /** {@return {@code real}, its connections running {@code hooks}} */
    static DataSource wrap(DataSource real, Hooks hooks) {
        ClassLoader loader = HookedDataSource.class.getClassLoader();
        InvocationHandler ds = (p, m, a) -> {
            Object r = invoke(real, m, a);
            if (!(r instanceof Connection c)) {
                return r;
            }
            List<String> transaction = new ArrayList<>();
            return Proxy.newProxyInstance(loader, new Class<?>[] {Connection.class}, (p2, m2, a2) -> {
                if (m2.getName().equals("prepareStatement")) {
                    transaction.add((String) a2[0]);
                }
                boolean end = m2.getName().equals("commit") || m2.getName().equals("rollback");
                if (end) {
                    hooks.beforeEnd(m2.getName(), List.copyOf(transaction));
                    transaction.clear();
                }
                Object r2 = invoke(c, m2, a2);
                if (end) {
                    hooks.afterEnd(m2.getName());
                }
                if (r2 instanceof PreparedStatement s && m2.getName().equals("prepareStatement")) {
                    String sql = (String) a2[0];
                    return Proxy.newProxyInstance(loader, new Class<?>[] {PreparedStatement.class}, (p3, m3, a3) -> {
                        Object r3 = invoke(s, m3, a3);
                        if (m3.getName().equals("executeQuery")) {
                            hooks.afterQuery(sql);
                        }
                        return r3;
                    });
                }
                return r2;
            });
        };
        return (DataSource) Proxy.newProxyInstance(loader, new Class<?>[] {DataSource.class}, ds);
    }

    private static Object invoke(Object target, Method m, Object[] a) throws Throwable {
        try {
            return m.invoke(target, a);
        } catch (InvocationTargetException e) {
            throw e.getCause();
        }
    }
}
