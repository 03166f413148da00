process CALIBRATE {
    tag "${meta.id}:${arm}"
    label 'process_medium'

    input:
    tuple val(meta), path(ms), val(arm), path(model)

    output:
    tuple val(meta), val(arm), path("calibrate_${arm}/calibrated.ms"), emit: ms
    tuple val(meta), val(arm), path("calibrate_${arm}/calibrate.json"), emit: json
    path "calibrate_${arm}", emit: dir

    script:
    def model_arg = model ? "--model ${model}" : '--model none'
    def fields = [
        meta.flux_field ? "--flux-field '${meta.flux_field}'" : '',
        meta.gain_field ? "--gain-field '${meta.gain_field}'" : '',
        meta.targets ? "--targets '${meta.targets}'" : '',
        meta.preset ? '--no-statwt' : '',  // simulated tiles carry exact weights
    ].join(' ')
    """
    calmodel calibrate --ms ${ms} ${model_arg} ${fields} --out calibrate_${arm} ${task.ext.args ?: ''}
    printf '{"tile": "%s", "arm": "${arm}"}\\n' '${meta.id}' > calibrate_${arm}/meta.json
    """

    stub:
    """
    mkdir -p calibrate_${arm}/calibrated.ms
    echo '{"fields": {"targets": ["T01"]}}' > calibrate_${arm}/calibrate.json
    """
}
