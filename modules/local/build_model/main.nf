// Self-calibration of the gain calibrator in the tile itself -> model.cl (+ model.tt0/tt1).
// model.cl is moved out of the record folder: the model arm's input, not a product.
process BUILD_MODEL {
    tag "${meta.id}:${calibrator}"
    label 'process_medium'

    input:
    tuple val(meta), path(ms, stageAs: 'input/*'), val(calibrator)

    output:
    tuple val(meta), path('model.cl'),    emit: model
    tuple val(meta), path('build_model'),          emit: record

    script:
    def args = task.ext.args ?: ''
    def bandpass = meta.flux_field ? "--bandpass-field ${Shell.quote(meta.flux_field)}" : ''
    """
    export OMP_NUM_THREADS=${task.cpus}
    calmodel build-model --ms ${Shell.quote(ms)} --field ${Shell.quote(calibrator)} ${bandpass} --out build_model ${args}
    mv build_model/model.cl model.cl
    """

    stub:
    // The real stage's layout (model.cl inside the record folder), and the same move.
    """
    mkdir -p build_model/model.cl build_model/model.tt0 build_model/model.tt1
    echo '{}' > build_model/build_model.json
    mv build_model/model.cl model.cl
    """
}
