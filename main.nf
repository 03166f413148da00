#!/usr/bin/env nextflow
/*
 * calmodel: does calibrating with a spatial model of a resolved gain calibrator
 * change the science images and catalogues? (VLASS Memo 19)
 * The processes live in modules/, one per stage; this file only wires them.
 */
include { CALMODEL_ENV } from './modules/env.nf'

workflow {
    if (params.help) {
        log.info """
        calmodel ${workflow.manifest.version}
        Usage: nextflow run . -profile <standard|test|slurm|apptainer> [--input samplesheet.csv] [--outdir results]
          --input     samplesheet CSV (columns: tile,ms; more are optional)
          --outdir    where results are published (default: ${params.outdir})
        """.stripIndent()
        return
    }
    CALMODEL_ENV()
}
