package dev.ekko.cli;

/**
 * A strict little JSON reader for the tests: {@link #check} throws {@link IllegalArgumentException} unless the text is
 * exactly one JSON value (RFC 8259: objects, arrays, strings with escapes, numbers, true, false, null) with nothing
 * after it but white space.
 */
final class JsonCheck {

    private final String s;
    private int i;

    private JsonCheck(String s) {
        this.s = s;
    }

    static void check(String text) {
        JsonCheck p = new JsonCheck(text);
        p.ws();
        p.value();
        p.ws();
        if (p.i != text.length()) {
            throw p.fail("text after the value");
        }
    }

    private IllegalArgumentException fail(String what) {
        return new IllegalArgumentException("not JSON: " + what + " at " + i + " in " + s);
    }

    private void ws() {
        while (i < s.length() && " \t\r\n".indexOf(s.charAt(i)) >= 0) {
            i++;
        }
    }

    private char peek() {
        if (i >= s.length()) {
            throw fail("unexpected end");
        }
        return s.charAt(i);
    }

    private void expect(char c) {
        if (peek() != c) {
            throw fail("expected '" + c + "'");
        }
        i++;
    }

    private void value() {
        char c = peek();
        if (c == '{') {
            i++;
            ws();
            if (peek() == '}') {
                i++;
                return;
            }
            while (true) {
                ws();
                string();
                ws();
                expect(':');
                ws();
                value();
                ws();
                if (peek() == ',') {
                    i++;
                } else {
                    expect('}');
                    return;
                }
            }
        } else if (c == '[') {
            i++;
            ws();
            if (peek() == ']') {
                i++;
                return;
            }
            while (true) {
                ws();
                value();
                ws();
                if (peek() == ',') {
                    i++;
                } else {
                    expect(']');
                    return;
                }
            }
        } else if (c == '"') {
            string();
        } else if (s.startsWith("true", i) || s.startsWith("null", i)) {
            i += 4;
        } else if (s.startsWith("false", i)) {
            i += 5;
        } else {
            number();
        }
    }

    private void string() {
        expect('"');
        while (true) {
            char c = peek();
            i++;
            if (c == '"') {
                return;
            }
            if (c < 0x20) {
                throw fail("control character in a string");
            }
            if (c == '\\') {
                char e = peek();
                i++;
                if (e == 'u') {
                    for (int k = 0; k < 4; k++) {
                        if (Character.digit(peek(), 16) < 0) {
                            throw fail("bad \\u escape");
                        }
                        i++;
                    }
                } else if ("\"\\/bfnrt".indexOf(e) < 0) {
                    throw fail("bad escape");
                }
            }
        }
    }

    private void number() {
        int start = i;
        if (i < s.length() && s.charAt(i) == '-') {
            i++;
        }
        if (i < s.length() && s.charAt(i) == '0') {
            i++;
        } else {
            digits();
        }
        if (i < s.length() && s.charAt(i) == '.') {
            i++;
            digits();
        }
        if (i < s.length() && (s.charAt(i) == 'e' || s.charAt(i) == 'E')) {
            i++;
            if (i < s.length() && (s.charAt(i) == '+' || s.charAt(i) == '-')) {
                i++;
            }
            digits();
        }
        if (i == start) {
            throw fail("expected a value");
        }
    }

    private void digits() {
        int start = i;
        while (i < s.length() && Character.isDigit(s.charAt(i))) {
            i++;
        }
        if (i == start) {
            throw fail("expected a digit");
        }
    }
}
