package dev.ekko.server;

/** The little JSON the server writes: strings escaped, IDs as unsigned decimals in quotes or bare. */
final class Json {

    private Json() {
    }

    /** Appends {@code s} as a JSON string. */
    static StringBuilder string(StringBuilder b, String s) {
        b.append('"');
        for (int i = 0; i < s.length(); i++) {
            char c = s.charAt(i);
            if (c == '"' || c == '\\') {
                b.append('\\').append(c);
            } else if (c < 0x20 || c == 0x7f) {
                b.append("\\u00").append(Character.forDigit(c >> 4, 16)).append(Character.forDigit(c & 0xf, 16));
            } else {
                b.append(c);
            }
        }
        return b.append('"');
    }

    /** Appends an unsigned 64-bit value, quoted unless {@code bare}. */
    static StringBuilder id(StringBuilder b, long id, boolean bare) {
        if (bare) {
            return b.append(Long.toUnsignedString(id));
        }
        return b.append('"').append(Long.toUnsignedString(id)).append('"');
    }

    /** Appends a JSON array of IDs. */
    static StringBuilder ids(StringBuilder b, long[] ids, boolean bare) {
        b.append('[');
        for (int i = 0; i < ids.length; i++) {
            if (i > 0) {
                b.append(',');
            }
            id(b, ids[i], bare);
        }
        return b.append(']');
    }
}
