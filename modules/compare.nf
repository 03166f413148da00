process COMPARE {
    tag "${meta.id}:${field}:${mode}"
    label 'process_single'

    input:
    tuple val(meta), val(field), val(mode), path(model_dir, stageAs: 'model/*'), path(nomodel_dir, stageAs: 'nomodel/*'), path(truth), path(image_dir, stageAs: 'image/*')

    output:
    path "compare_${meta.id}_${field}_${mode}", emit: dir

    script:
    def truth_arg = truth ? "--truth ${truth} --truth-field '${field}'" : ''
    def out = "compare_${meta.id}_${field}_${mode}"
    """
    calmodel compare --model ${model_dir}/catalog.fits --nomodel ${nomodel_dir}/catalog.fits ${truth_arg} --out ${out} ${task.ext.args ?: ''}
    cp ${image_dir}/image.json ${out}/image.json
    printf '{"tile": "%s", "field": "%s", "mode": "%s"}\\n' '${meta.id}' '${field}' '${mode}' > ${out}/meta.json
    """

    stub:
    """
    mkdir -p compare_${meta.id}_${field}_${mode}
    echo '{}' > compare_${meta.id}_${field}_${mode}/compare.json
    """
}
