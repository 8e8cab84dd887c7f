package dev.ekko.worker.redis;

import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.HexFormat;
import java.util.List;
import redis.clients.jedis.Jedis;
import redis.clients.jedis.exceptions.JedisNoScriptException;

/**
 * One Lua script kept as a resource next to this class, read once. It runs with {@code EVALSHA}; a server
 * that does not know it (new, restarted, or {@code SCRIPT FLUSH}ed) answers {@code NOSCRIPT}, and then
 * {@code EVAL} sends the source once, which also caches it there for the next {@code EVALSHA}.
 */
final class LuaScript {

    static final LuaScript ACQUIRE = load("acquire.lua");
    static final LuaScript RENEW = load("renew.lua");
    static final LuaScript RELEASE = load("release.lua");
    static final LuaScript SEGMENT_DEFINE = load("segment-define.lua");
    static final LuaScript SEGMENT_TAKE = load("segment-take.lua");

    private final String name;
    private final String source;
    private final String sha1;

    private LuaScript(String name, String source) {
        this.name = name;
        this.source = source;
        try {
            this.sha1 = HexFormat.of().formatHex(MessageDigest.getInstance("SHA-1").digest(source.getBytes(StandardCharsets.UTF_8)));
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException("every Java platform has SHA-1", e);
        }
    }

    static LuaScript load(String name) {
        try (InputStream in = LuaScript.class.getResourceAsStream(name)) {
            if (in == null) {
                throw new IllegalStateException("missing resource " + name + " next to " + LuaScript.class.getName()
                        + ": the ekko-worker-redis jar is incomplete");
            }
            return new LuaScript(name, new String(in.readAllBytes(), StandardCharsets.UTF_8));
        } catch (IOException e) {
            throw new UncheckedIOException("cannot read resource " + name + " of ekko-worker-redis", e);
        }
    }

    /**
     * @return the script's reply: a list of strings for every script here
     * @throws redis.clients.jedis.exceptions.JedisException as Jedis throws it
     */
    Object run(Jedis jedis, List<String> keys, List<String> args) {
        try {
            return jedis.evalsha(sha1, keys, args);
        } catch (JedisNoScriptException e) {
            return jedis.eval(source, keys, args);
        }
    }

    String name() {
        return name;
    }

    String sha1() {
        return sha1;
    }

    String source() {
        return source;
    }

    @Override
    public String toString() {
        return name + "@" + sha1.substring(0, 8);
    }
}
