/*
 * Test harness, not part of the pipeline: one real calmodel stage (simulate, ~10 s) with the
 * pipeline's configuration and error strategy, published like the pipeline's. The test kills
 * Nextflow (kill -9) while the stage runs, leaving it orphaned, and resumes the run.
 */

process ORPHAN_PROBE {
    label 'process_single'
    publishDir "${params.outdir}", mode: 'copy'

    output:
    path 'simulate'

    script:
    """
    calmodel simulate --preset point --seed 1 --out simulate
    """
}

workflow {
    ORPHAN_PROBE()
}
