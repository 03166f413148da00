// The decision (model-needed | uvrange | insufficient-coverage | point), the gain
// calibrator it concerns, the uvrange it suggests and the target fields by core.roles
// (';'-separated, empty for a calibrator-only observation) leave the task as values, so the
// workflow never reads JSON.
process CHARACTERIZE {
    tag "${meta.id}"
    label 'process_single'

    input:
    tuple val(meta), path(ms)

    output:
    tuple val(meta), env(DECISION), env(CALIBRATOR), env(UVRANGE), env(TARGETS), emit: decision
    tuple val(meta), path('characterize'),            emit: record

    script:
    def args = task.ext.args ?: ''
    def field = meta.gain_field ? "--field ${Shell.quote(meta.gain_field)}" : ''
    def bandpass = meta.flux_field ? "--bandpass-field ${Shell.quote(meta.flux_field)}" : ''
    """
    export OMP_NUM_THREADS=${task.cpus}
    calmodel characterize --ms ${Shell.quote(ms)} ${field} ${bandpass} --out characterize ${args}
    DECISION=\$(record_value characterize/characterize.json decision)
    CALIBRATOR=\$(record_value characterize/characterize.json calibrator)
    UVRANGE=\$(record_value characterize/characterize.json uvrange)
    TARGETS=\$(record_value characterize/characterize.json targets)
    """

    stub:
    """
    mkdir -p characterize
    echo '{}' > characterize/characterize.json
    DECISION=model-needed
    CALIBRATOR=${Shell.quote(meta.gain_field ?: 'GCAL')}
    UVRANGE=''
    TARGETS=${Shell.quote(meta.targets ? meta.targets.join(';') : 'T01')}
    """
}
