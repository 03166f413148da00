// The two arms' catalogues of one tile, field and mode (and the truth of a simulated tile).
process COMPARE {
    tag "${meta.id}:${meta.field}:${meta.mode}"
    label 'process_single'

    input:
    tuple val(meta), path(model_catalog, stageAs: 'model/*'), path(nomodel_catalog, stageAs: 'nomodel/*'), path(truth)

    output:
    tuple val(meta), path("compare_${meta.id}_${meta.field}_${meta.mode}"), emit: record

    script:
    def args = task.ext.args ?: ''
    // A mosaic's truth is every truth component inside its image (compare's footprint cut).
    def truth_field = meta.mosaic_fields ? '' : " --truth-field ${Shell.quote(meta.field)}"
    def truth_args = truth ? "--truth ${Shell.quote(truth)}${truth_field}" : ''
    """
    export OMP_NUM_THREADS=${task.cpus}
    calmodel compare --model ${Shell.quote("${model_catalog}/catalog.fits")} --nomodel ${Shell.quote("${nomodel_catalog}/catalog.fits")} ${truth_args} --out ${Shell.quote("compare_${meta.id}_${meta.field}_${meta.mode}")} ${args}
    """

    stub:
    def out = "compare_${meta.id}_${meta.field}_${meta.mode}"
    """
    mkdir -p ${Shell.quote(out)}
    echo '{}' > ${Shell.quote("${out}/compare.json")}
    """
}
