package dev.ekko.worker.redis;

/**
 * The names of the keys of one IDC in one namespace:
 * <pre>
 *   &lt;namespace&gt;:{idc&lt;d&gt;}:lease:&lt;w&gt;     hash, PEXPIRE ttl: token, host, pid, instance, since, base
 *   &lt;namespace&gt;:{idc&lt;d&gt;}:history:&lt;w&gt;   hash, no expiry: mark, incarnation, and the last report (time, reserved,
 *                                     host, pid, instance, at), holder
 *   &lt;namespace&gt;:{idc&lt;d&gt;}:instances     hash, no expiry: instance name -&gt; worker ID it acquired last
 *   &lt;namespace&gt;:{idc&lt;d&gt;}:settings      hash, no expiry: the fleet settings recorded at first use
 *   &lt;namespace&gt;:{idc&lt;d&gt;}:marks         sorted set, no expiry: worker ID -&gt; mark, marks this incarnation wrote
 *   &lt;namespace&gt;:{idc&lt;d&gt;}:marks:incarnation  string, no expiry: the incarnation the marks set belongs to
 *   &lt;namespace&gt;:{idc&lt;d&gt;}:leases        sorted set, no expiry: worker ID -&gt; when its lease expires (server ms, 0
 *                                     once released), the index an acquire finds free worker IDs in
 *   &lt;namespace&gt;:{idc&lt;d&gt;}:fresh         string, no expiry: worker IDs below it are in the leases index
 *   &lt;namespace&gt;:{idc&lt;d&gt;}:generation    string, no expiry: see {@link #generation()}
 *   &lt;namespace&gt;:{idc&lt;d&gt;}:epoch         string, no expiry: see {@link #epoch()}
 * </pre>
 * The braces make {@code idc<d>} the Redis Cluster hash tag, so every key a script of one IDC touches
 * lies in one slot.
 */
final class RedisKeys {

    private final String prefix;

    RedisKeys(String namespace, int idc) {
        this.prefix = namespace + (namespace.endsWith(":") ? "" : ":") + "{idc" + idc + "}:";
    }

    /** {@return {@code <namespace>:{idc<d>}:}, the start of every key of this IDC} */
    String prefix() {
        return prefix;
    }

    String lease(int worker) {
        return prefix + "lease:" + worker;
    }

    String history(int worker) {
        return prefix + "history:" + worker;
    }

    String instances() {
        return prefix + "instances";
    }

    String settings() {
        return prefix + "settings";
    }

    String marks() {
        return prefix + "marks";
    }

    String marksIncarnation() {
        return prefix + "marks:incarnation";
    }

    /** The index of when each worker ID's lease expires (acquire.lua). */
    String leases() {
        return prefix + "leases";
    }

    /** A random token written when a holder saw the data go back; part of the incarnation that marks are trusted under. */
    String generation() {
        return prefix + "generation";
    }

    /** The counter every renewal increments; one that does not rise means the data went back. */
    String epoch() {
        return prefix + "epoch";
    }
}
