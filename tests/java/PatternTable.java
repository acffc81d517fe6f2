// Formats a table of logging events with the real log4j 1.2 PatternLayout and EnhancedPatternLayout, for the Rust
// conformance test (tests/log4j_pattern_conformance.rs).
//
// Input (stdin, or the file named by the first argument): one case per line, 9 fields separated
// by a TAB, text fields hex-encoded as UTF-8 so that any character can travel:
//   layout  pattern  logger  level  message  thread  mdc  timestamp-millis  timezone-id
// `layout` is `PatternLayout` or `EnhancedPatternLayout`;
// `mdc` is the hex of "k1\0v1\0k2\0v2..." (empty for none); `level` is a log4j level name;
// `timezone-id` is a java.util.TimeZone id ("UTC", "GMT+01:00", "Europe/Paris").
//
// Output (stdout): first `start <LoggingEvent.getStartTime()>`, then one line per case: the hex
// of the UTF-8 bytes of layout.format(event) (a lone surrogate left by a truncation becomes
// '?', as it does through a UTF-8 Writer).
import java.io.BufferedReader;
import java.io.FileInputStream;
import java.io.InputStream;
import java.io.InputStreamReader;
import java.io.PrintStream;
import java.lang.reflect.Field;
import java.nio.charset.StandardCharsets;
import java.util.Locale;
import java.util.TimeZone;

import org.apache.log4j.EnhancedPatternLayout;
import org.apache.log4j.Layout;
import org.apache.log4j.Level;
import org.apache.log4j.Logger;
import org.apache.log4j.MDC;
import org.apache.log4j.PatternLayout;
import org.apache.log4j.helpers.LogLog;
import org.apache.log4j.spi.LoggingEvent;

public final class PatternTable {
    /** Not on any stack: events get no location information, so %C %F %L %M print "?". */
    private static final String NO_CALLER = "no.such.CallerClass";

    public static void main(String[] args) throws Exception {
        Locale.setDefault(Locale.US);
        LogLog.setQuietMode(true);
        InputStream in = args.length > 0 ? new FileInputStream(args[0]) : System.in;
        BufferedReader reader = new BufferedReader(new InputStreamReader(in, StandardCharsets.UTF_8));
        PrintStream out = new PrintStream(System.out, false, "UTF-8");
        out.println("start " + LoggingEvent.getStartTime());
        String line;
        int lineNo = 0;
        while ((line = reader.readLine()) != null) {
            lineNo++;
            if (line.isEmpty()) {
                continue;
            }
            String[] f = line.split("\t", -1);
            if (f.length != 9) {
                throw new IllegalArgumentException("line " + lineNo + ": expected 9 fields, got " + f.length);
            }
            String layoutName = f[0];
            String pattern = unhex(f[1]);
            String loggerName = unhex(f[2]);
            Level level = Level.toLevel(f[3], null);
            if (level == null) {
                throw new IllegalArgumentException("line " + lineNo + ": unknown level " + f[3]);
            }
            String message = unhex(f[4]);
            String thread = unhex(f[5]);
            String mdc = unhex(f[6]);
            long timestamp = Long.parseLong(f[7]);
            TimeZone.setDefault(TimeZone.getTimeZone(f[8]));

            Thread.currentThread().setName(thread);
            MDC.clear();
            if (!mdc.isEmpty()) {
                String[] kv = mdc.split("\0", -1);
                for (int i = 0; i + 1 < kv.length; i += 2) {
                    MDC.put(kv[i], kv[i + 1]);
                }
            }
            // The layout is built after the default zone is set: its date formats capture it.
            resetDateCaches();
            Layout layout;
            if (layoutName.equals("PatternLayout")) {
                layout = new PatternLayout(pattern);
            } else if (layoutName.equals("EnhancedPatternLayout")) {
                layout = new EnhancedPatternLayout(pattern);
            } else {
                throw new IllegalArgumentException("line " + lineNo + ": unknown layout " + layoutName);
            }
            LoggingEvent event = new LoggingEvent(
                NO_CALLER, Logger.getLogger(loggerName), timestamp, level, message, null);
            out.println(hex(layout.format(event).getBytes(StandardCharsets.UTF_8)));
        }
        out.flush();
    }

    /**
     * log4j's ISO8601 and ABSOLUTE formats keep the text of the last second in static fields
     * shared by every instance, whatever its zone. A real process has one default zone; this
     * table changes it between cases, so the cache is emptied before each one.
     */
    private static void resetDateCaches() throws Exception {
        String[][] caches = {
            {"org.apache.log4j.helpers.AbsoluteTimeDateFormat", "previousTimeWithoutMillis"},
            {"org.apache.log4j.helpers.ISO8601DateFormat", "lastTimeString"},
        };
        for (String[] cache : caches) {
            Field field = Class.forName(cache[0]).getDeclaredField(cache[1]);
            field.setAccessible(true);
            ((char[]) field.get(null))[0] = 0;
        }
    }

    private static String unhex(String s) {
        byte[] b = new byte[s.length() / 2];
        for (int i = 0; i < b.length; i++) {
            b[i] = (byte) Integer.parseInt(s.substring(2 * i, 2 * i + 2), 16);
        }
        return new String(b, StandardCharsets.UTF_8);
    }

    private static String hex(byte[] b) {
        StringBuilder sb = new StringBuilder(b.length * 2);
        for (byte x : b) {
            sb.append(Character.forDigit((x >> 4) & 0xf, 16)).append(Character.forDigit(x & 0xf, 16));
        }
        return sb.toString();
    }
}
