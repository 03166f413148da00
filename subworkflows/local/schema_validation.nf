/*
 * Validation and help from nextflow_schema.json and assets/schema_input.json, without the
 * nf-schema plugin (plugins cannot be downloaded where calmodel runs offline). The JSON files
 * stay in nf-schema's format, so the plugin and Seqera Platform read them too.
 *
 * Supported keywords: type, enum, pattern, minimum, maximum, required, oneOf of required
 * columns, additionalProperties=false (unknown columns), uniqueEntries, minItems, default.
 */

def readJson(path) {
    return new groovy.json.JsonSlurper().parse(new File(path.toString()))
}

// name -> property definition of every parameter in the schema's $defs groups
def schemaParameters(schema) {
    return schema['$defs'].values().collectEntries { group -> group.properties }
}

// A printable form of a user value: control characters shown, not obeyed.
def shown(value) {
    return "'" + value.toString().replace('\\', '\\\\').replace('\n', '\\n').replace('\r', '\\r').replace('\t', '\\t') + "'"
}

// The error for one value against its property definition, or null if it is valid.
def checkValue(value, prop) {
    def text = value.toString()
    switch (prop.type) {
        case 'boolean':
            if (!(value instanceof Boolean)) {
                return 'expected true or false'
            }
            break
        case 'integer':
            if (!(text ==~ /-?[0-9]{1,10}/)) {
                return 'expected a whole number'
            }
            def number = text as long
            if (prop.minimum != null && number < prop.minimum) {
                return "must be at least ${prop.minimum}"
            }
            if (prop.maximum != null && number > prop.maximum) {
                return "must be at most ${prop.maximum}"
            }
            break
        case 'number':
            if (!(text ==~ /-?[0-9]+(\.[0-9]+)?([eE][-+]?[0-9]+)?/)) {
                return 'expected a number'
            }
            break
    }
    if (prop.enum && !(text in prop.enum.collect { allowed -> allowed.toString() })) {
        return "must be one of ${prop.enum.join(', ')}"
    }
    if (prop.pattern && !java.util.regex.Pattern.compile(prop.pattern).matcher(text).find()) {
        return prop.errorMessage ?: "must match ${prop.pattern}"
    }
    return null
}

/*
 * Pipeline parameters: every given parameter known, typed and matching its pattern/enum,
 * required ones present. Nextflow reads `--slurm_options '--account=abc'` as
 * slurm_options=true plus a parameter 'account': those extra parameters are sbatch options
 * (reassembled by nextflow.config), not unknown parameters.
 */
def validateParameters(schema, params) {
    def props = schemaParameters(schema)
    def errors = []
    def sbatchSplit = params.slurm_options == true
    params.each { name, value ->
        if (!props.containsKey(name)) {
            if (!sbatchSplit) {
                errors << "unknown parameter --${name} (known: ${props.keySet().sort().collect { known -> '--' + known }.join(', ')})"
            }
        }
        else if (value != null && !(name == 'slurm_options' && sbatchSplit)) {
            def problem = checkValue(value, props[name])
            if (problem) {
                errors << "--${name} ${shown(value)}: ${problem}"
            }
        }
    }
    schema['$defs'].values().each { group ->
        group.required?.each { name ->
            if (params[name] == null || params[name] == '') {
                errors << "--${name} is required (${props[name].description})"
            }
        }
    }
    if (errors) {
        error("calmodel: invalid parameters:\n  " + errors.join('\n  ') + '\nSee --help.')
    }
}

/*
 * The samplesheet, read whole and checked before any task starts. Returns one map per row:
 * every column's value typed (seed as an integer), null where empty. An error names the
 * row, the column and the value.
 */
def readSamplesheet(sheet, schema) {
    def item = schema.items
    def props = item.properties
    def rows = []
    try {
        rows = sheet.splitCsv(header: true, strip: true, quote: '"')
    }
    catch (IllegalStateException err) {
        // e.g. a quoted value spanning lines: Nextflow's CSV reader takes one line per row
        error("calmodel: invalid samplesheet: ${sheet} cannot be read as CSV (${err.message.readLines()[0]}); one row per line, no line breaks inside values")
    }
    def errors = []
    if (rows.size() < (schema.minItems ?: 0)) {
        errors << "${sheet}: no rows (a header and at least one tile are needed)"
    }
    def header = rows ? rows[0].keySet() : []
    def unknown = header.findAll { column -> !props.containsKey(column) }
    if (unknown && item.additionalProperties == false) {
        errors << "${sheet}: unknown column(s) ${unknown.join(', ')}; allowed: ${props.keySet().join(', ')}"
    }
    def typed = rows.withIndex(1).collect { row, number ->
        def where = "${sheet} row ${number}" + (row.tile ? " (tile ${shown(row.tile)})" : '')
        def values = [:]
        props.each { column, prop ->
            def raw = row[column]
            if (raw == null || raw == '') {
                values[column] = null
                return
            }
            def problem = checkValue(raw, prop)
            if (problem) {
                errors << "${where}, column ${column}, value ${shown(raw)}: ${problem}"
            }
            values[column] = prop.type == 'integer' && !problem ? raw as long : raw
        }
        item.required.each { column ->
            if (values[column] == null) {
                errors << "${where}, column ${column}: a value is required"
            }
        }
        def choices = item.oneOf*.required*.getAt(0)
        if (choices && choices.count { column -> values[column] != null } != 1) {
            errors << "${where}: give exactly one of the columns ${choices.join(', ')}"
        }
        return values
    }
    schema.uniqueEntries?.each { column ->
        typed.countBy { values -> values[column] }.findAll { value, count -> value != null && count > 1 }.each { value, count ->
            errors << "${sheet}, column ${column}: value ${shown(value)} appears ${count} times (must be unique)"
        }
    }
    if (errors) {
        error("calmodel: invalid samplesheet:\n  " + errors.join('\n  '))
    }
    return typed
}

// A field name found in a measurement set (not in the samplesheet) must obey the same rule.
def checkFieldName(schema, tile, role, name) {
    def problem = checkValue(name, schema.items.properties.gain_field)
    if (problem) {
        error("calmodel: tile ${tile}: the measurement set's ${role} ${shown(name)} cannot be used: ${problem}; name the fields in the samplesheet")
    }
    return name
}

// --help, generated from nextflow_schema.json.
def paramsHelp(schema, version) {
    def lines = ["calmodel ${version}: ${schema.description}", '',
                 'Usage:',
                 '  nextflow run . -profile <standard|test|slurm|apptainer>[,...] --input samplesheet.csv --outdir results', '']
    schema['$defs'].values().each { group ->
        lines << "${group.title}: ${group.description}"
        group.properties.each { name, prop ->
            def choices = prop.enum ? " [${prop.enum.join('|')}]" : ''
            def fallback = prop.default != null ? " (default: ${prop.default})" : ''
            def needed = name in (group.required ?: []) ? ' (required)' : ''
            lines << "  --${name.padRight(18)} ${prop.type}${choices}${needed}: ${prop.description}${fallback}"
        }
        lines << ''
    }
    lines << 'Samplesheet columns (assets/schema_input.json); outputs: docs/output.md.'
    return lines.join('\n')
}
