process IMAGE {
    tag "${meta.id}:${arm}:${field}:${mode}"
    label 'process_medium'

    input:
    tuple val(meta), val(arm), path(ms), val(field), val(mode)

    output:
    tuple val(meta), val(arm), val(field), val(mode), path("image_${arm}_${field}_${mode}"), emit: images

    script:
    """
    calmodel image --ms ${ms} --field '${field}' --mode ${mode} --out image_${arm}_${field}_${mode} ${task.ext.args ?: ''}
    """

    stub:
    """
    mkdir -p image_${arm}_${field}_${mode}
    touch image_${arm}_${field}_${mode}/${field}_${mode}.image.tt0.fits
    echo '{}' > image_${arm}_${field}_${mode}/image.json
    """
}
