#!/usr/bin/env nextflow
/*
 * calmodel: does calibrating with a spatial model of a resolved gain calibrator change the
 * science images and catalogues? (VLASS Memo 19). The workflow is in workflows/calmodel.nf;
 * this file checks the parameters and the samplesheet against their schemas before any
 * task starts (a sweep's samplesheet as soon as SWEEP has written it), then runs the workflow.
 */
include { CALMODEL } from './workflows/calmodel'
include { SWEEP }    from './modules/local/sweep/main'
include { readJson; schemaParameters; validateParameters; readSamplesheet; paramsHelp } from './subworkflows/local/schema_validation'

workflow {
    def schema = readJson("${projectDir}/nextflow_schema.json")
    if (params.help) {
        log.info(paramsHelp(schema, workflow.manifest.version))
        return
    }
    validateParameters(schema, params)
    def sheetSchema = readJson("${projectDir}/${schemaParameters(schema).input.schema}")
    def defaults = [modes: params.modes, build_model: params.build_model]
    if (params.sweep && params.input) {
        error("calmodel: give --input or --sweep, not both (-profile sweep sets --sweep). See --help.")
    }
    if (params.sweep) {
        def sweep = file(params.sweep)
        if (!sweep.exists()) {
            error("calmodel: sweep description not found: ${params.sweep} (docs/sweep.md)")
        }
        // The sweep's rows name their configs relative to its samplesheet: made absolute here.
        SWEEP(sweep)
        def rows = SWEEP.out.samplesheet.flatMap { sheet ->
            readSamplesheet(sheet, sheetSchema).collect { row -> row.config ? row + [config: sheet.parent.resolve(row.config).toString()] : row }
        }
        CALMODEL(rows, sweep.parent, defaults, SWEEP.out.points)
        return
    }
    if (params.input == null) {
        error("calmodel: give --input samplesheet.csv (or --sweep sweep.yaml, or a profile that sets one: -profile test, test_real, sweep). See --help.")
    }
    def sheet = file(params.input)
    if (!sheet.exists()) {
        def hint = workflow.profile.tokenize(',').contains('test_real') ? ' (write it first: calmodel real-samplesheet --out samplesheet_real.csv; docs/real-data.md)' : ''
        error("calmodel: samplesheet not found: ${params.input}${hint}")
    }
    CALMODEL(channel.fromList(readSamplesheet(sheet, sheetSchema)), sheet.parent, defaults, channel.value([]))
}
