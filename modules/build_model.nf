process BUILD_MODEL {
    tag "${meta.id}"
    label 'process_medium'

    input:
    tuple val(meta), path(ms), val(gain_field)

    output:
    tuple val(meta), path('build_model/model.cl'), emit: model
    path 'build_model', emit: dir

    script:
    def bandpass = meta.flux_field ? "--bandpass-field '${meta.flux_field}'" : ''
    """
    calmodel build-model --ms ${ms} --field '${gain_field}' ${bandpass} --out build_model ${task.ext.args ?: ''}
    printf '{"tile": "%s"}\\n' '${meta.id}' > build_model/meta.json
    """

    stub:
    """
    mkdir -p build_model/model.cl
    echo '{}' > build_model/build_model.json
    """
}
