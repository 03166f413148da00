/*
 * Test harness, not part of the pipeline: run with the pipeline's configuration
 * (`nextflow run <repo> -main-script tests/pipeline/resources_probe.nf`), one task per
 * resource label, each exiting with $PROBE_EXIT until attempt $PROBE_LAST_ATTEMPT, which exits 0.
 * The trace shows what each attempt asked for and how each exit code was handled.
 */

def lastAttempt = System.getenv('PROBE_LAST_ATTEMPT') as int

process PROBE_SINGLE {
    label 'process_single'

    input:
    val code

    script:
    """
    echo "queue=${task.queue} clusterOptions=${task.clusterOptions}"
    [ ${task.attempt} -ge ${lastAttempt} ] && exit 0
    exit ${code}
    """
}

process PROBE_MEDIUM {
    label 'process_medium'

    input:
    val code

    script:
    """
    [ ${task.attempt} -ge ${lastAttempt} ] && exit 0
    exit ${code}
    """
}

workflow {
    def code = System.getenv('PROBE_EXIT') as int
    PROBE_SINGLE(code)
    PROBE_MEDIUM(code)
}
