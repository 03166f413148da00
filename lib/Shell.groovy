/*
 * Values from a samplesheet or a measurement set reach task scripts only through
 * Shell.quote: single-quoted, so bash never expands $(...), backticks, ; | & or spaces,
 * even in a value that passed validation.
 */
class Shell {
    static String quote(Object value) {
        return "'" + value.toString().replace("'", "'\\''") + "'"
    }
}
