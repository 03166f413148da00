#!/usr/bin/env nextflow
/*
 * calmodel: does calibrating with a spatial model of a resolved gain calibrator change the
 * science images and catalogues? (VLASS Memo 19). The workflow is in workflows/calmodel.nf;
 * this file checks the parameters and the samplesheet against their schemas before any
 * task starts, then runs the workflow.
 */
include { CALMODEL } from './workflows/calmodel'
include { readJson; schemaParameters; validateParameters; readSamplesheet; paramsHelp } from './subworkflows/local/schema_validation'

workflow {
    def schema = readJson("${projectDir}/nextflow_schema.json")
    if (params.help) {
        log.info(paramsHelp(schema, workflow.manifest.version))
        return
    }
    validateParameters(schema, params)
    def sheet = file(params.input)
    if (!sheet.exists()) {
        def hint = workflow.profile.tokenize(',').contains('test_real') ? ' (write it first: calmodel real-samplesheet --out samplesheet_real.csv; docs/real-data.md)' : ''
        error("calmodel: samplesheet not found: ${params.input}${hint}")
    }
    def rows = readSamplesheet(sheet, readJson("${projectDir}/${schemaParameters(schema).input.schema}"))
    CALMODEL(rows, sheet.parent, [modes: params.modes, build_model: params.build_model])
}
