process CHARACTERIZE {
    tag "${meta.id}"
    label 'process_single'

    input:
    tuple val(meta), path(ms)

    output:
    tuple val(meta), path('characterize/characterize.json'), emit: json
    path 'characterize', emit: dir

    script:
    def field = meta.gain_field ? "--field '${meta.gain_field}'" : ''
    def bandpass = meta.flux_field ? "--bandpass-field '${meta.flux_field}'" : ''
    """
    calmodel characterize --ms ${ms} ${field} ${bandpass} --out characterize ${task.ext.args ?: ''}
    printf '{"tile": "%s"}\\n' '${meta.id}' > characterize/meta.json
    """

    stub:
    """
    mkdir -p characterize
    echo '{"decisions": {"GCAL": "model-needed"}, "gain_calibrators": ["GCAL"]}' > characterize/characterize.json
    """
}
