package dev.ekko.cli;

import dev.ekko.EkkoException;
import java.io.BufferedOutputStream;
import java.io.FileDescriptor;
import java.io.FileOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.PrintStream;
import java.io.PrintWriter;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.stream.Collectors;
import picocli.AutoComplete;
import picocli.CommandLine;
import picocli.CommandLine.IVersionProvider;
import picocli.CommandLine.ParameterException;
import picocli.CommandLine.UnmatchedArgumentException;

/**
 * The {@code ekko} command: {@code next}, {@code decode}, {@code layout}, {@code mysql new-generation},
 * {@code etcd new-generation}, {@code help}, {@code completion}.
 * Settings come from {@code EKKO_*} variables, then {@code -Dekko.*} system properties, then options, which win;
 * {@code decode} and {@code layout} read only the layout settings.
 *
 * <p>Exit status: 0 done; 1 the generator refused (clock, state file, lease, coordinator); 2 a bad command,
 * option, value or combination of settings (and {@code decode} when any ID was bad); 141 standard output was
 * closed (as a program killed by SIGPIPE).
 */
public final class Main {

    /** Done. */
    public static final int OK = 0;
    /** The generator refused: clock, state file, lease, coordinator. */
    public static final int REFUSED = 1;
    /** A bad command, option, value or combination of settings. */
    public static final int USAGE = 2;
    /** Standard output was closed before everything was written (128 + SIGPIPE, as the shell reports a killed writer). */
    public static final int OUTPUT_CLOSED = 141;

    private Main() {
    }

    public static void main(String[] args) {
        PrintStream out = new PrintStream(new BufferedOutputStream(new FileOutputStream(FileDescriptor.out), 1 << 16), false,
                StandardCharsets.UTF_8);
        PrintStream err = new PrintStream(new FileOutputStream(FileDescriptor.err), true, StandardCharsets.UTF_8);
        int code = run(args, out, err);
        out.flush();
        System.exit(code);
    }

    /**
     * Runs one command line.
     *
     * @param args the arguments, the command among them
     * @param out where results go
     * @param err where messages go, one line each, starting {@code ekko: }
     * @return the exit status (see the class comment)
     */
    public static int run(String[] args, PrintStream out, PrintStream err) {
        return run(args, out, err, System.getenv());
    }

    /** As {@link #run(String[], PrintStream, PrintStream)}, with the environment {@code decode} and {@code layout} read. */
    static int run(String[] args, PrintStream out, PrintStream err, Map<String, String> env) {
        CommandLine cl = commandLine(out, err, env);
        PrintWriter outWriter = new PrintWriter(out, true, StandardCharsets.UTF_8);
        PrintWriter errWriter = new PrintWriter(err, true, StandardCharsets.UTF_8);
        cl.setOut(outWriter);
        cl.setErr(errWriter);
        int code = cl.execute(args);
        outWriter.flush();
        errWriter.flush();
        if (code == OK && out.checkError()) {
            return OUTPUT_CLOSED;
        }
        return code;
    }

    static CommandLine commandLine(PrintStream out, PrintStream err, Map<String, String> env) {
        Commands.Root root = new Commands.Root(out, err, env);
        CommandLine cl = new CommandLine(root);
        // picocli's own generator of completion scripts, under a shorter name
        CommandLine completion = new CommandLine(new AutoComplete.GenerateCompletion());
        completion.getCommandSpec().name("completion").versionProvider(new Version()).usageMessage()
                .description("Print a bash (and zsh) completion script for ekko; in bash: source <(ekko completion)");
        cl.addSubcommand("completion", completion);
        cl.setParameterExceptionHandler((ex, arguments) -> {
            ex.getCommandLine().getErr().println("ekko: " + message(ex));
            ex.getCommandLine().getErr().flush();
            return USAGE;
        });
        cl.setExecutionExceptionHandler((ex, commandLine, parseResult) -> {
            if (ex instanceof OutputClosedException) {
                return OUTPUT_CLOSED;
            }
            PrintWriter e = commandLine.getErr();
            if (ex instanceof UsageError || ex instanceof IllegalArgumentException || ex instanceof IllegalStateException) {
                e.println("ekko: " + ex.getMessage());
                e.flush();
                return USAGE;
            }
            if (ex instanceof EkkoException) {
                e.println("ekko: " + ex.getMessage());
                e.flush();
                return REFUSED;
            }
            if (ex instanceof UncheckedIOException) {
                e.println("ekko: " + ex.getCause().getMessage());
                e.flush();
                return REFUSED;
            }
            throw ex;
        });
        return cl;
    }

    /** The one-line message for a bad command line: what was wrong, the value, and what is allowed. */
    static String message(ParameterException ex) {
        CommandLine cl = ex.getCommandLine();
        String command = cl.getCommandSpec().qualifiedName();
        if (ex instanceof UnmatchedArgumentException) {
            UnmatchedArgumentException u = (UnmatchedArgumentException) ex;
            List<String> unmatched = u.getUnmatched();
            String first = unmatched.isEmpty() ? "" : unmatched.get(0);
            List<String> suggestions = u.getSuggestions();
            String hint = suggestions.isEmpty() ? "" : "; did you mean " + String.join(" or ", suggestions) + "?";
            if (first.startsWith("-")) {
                return "unknown option for " + command + ": " + first + " (" + command + " --help lists them" + hint + ")";
            }
            if (!cl.getSubcommands().isEmpty()) {
                return "unknown command: " + first + " (commands: "
                        + cl.getSubcommands().keySet().stream().collect(Collectors.joining(", ")) + hint + ")";
            }
            return command + " takes no arguments: " + String.join(" ", unmatched);
        }
        String m = ex.getMessage();
        m = m.isEmpty() ? m : Character.toLowerCase(m.charAt(0)) + m.substring(1);
        return m + " (" + command + " --help)";
    }

    /** A bad option value found while running: exit 2. */
    static final class UsageError extends RuntimeException {
        private static final long serialVersionUID = 1L;

        UsageError(String message) {
            super(message);
        }
    }

    /** Standard output is closed (the reader went away): stop at once, exit 141, say nothing. */
    static final class OutputClosedException extends RuntimeException {
        private static final long serialVersionUID = 1L;

        OutputClosedException() {
            super("standard output closed", null, false, false);
        }
    }

    /** {@code ekko --version}: the CLI's version and the Java it runs on. */
    static final class Version implements IVersionProvider {
        @Override
        public String[] getVersion() throws IOException {
            Properties p = new Properties();
            try (InputStream in = Main.class.getResourceAsStream("version.properties")) {
                if (in != null) {
                    p.load(in);
                }
            }
            return new String[] {
                "ekko " + p.getProperty("version", "unknown"),
                "Java " + System.getProperty("java.version") + " (" + System.getProperty("java.vendor") + ", "
                        + System.getProperty("java.home") + ")"
            };
        }
    }
}
