/*
 * Values from a samplesheet or a measurement set reach task scripts only through
 * Shell.quote: single-quoted, so bash never expands $(...), backticks, ; | & or spaces,
 * even in a value that passed validation.
 */
class Shell {
    static String quote(Object value) {
        return "'" + value.toString().replace("'", "'\\''") + "'"
    }

    // A CASA uvrange as characterize writes it (>35klambda, <90klambda, 35~90klambda): the
    // only form a value computed from the data may take on a command line.
    static String checkUvrange(Object value) {
        def text = value.toString()
        if (!(text ==~ /[<>]?[0-9]+(\.[0-9]+)?(~[0-9]+(\.[0-9]+)?)?klambda/)) {
            throw new IllegalArgumentException("not a uvrange: '${text}'")
        }
        return text
    }
}
