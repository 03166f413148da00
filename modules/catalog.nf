process CATALOG {
    tag "${meta.id}:${arm}:${field}:${mode}"
    label 'process_single'

    input:
    tuple val(meta), val(arm), val(field), val(mode), path(image_dir)

    output:
    tuple val(meta), val(arm), val(field), val(mode), path("catalog_${arm}_${field}_${mode}"), emit: catalog

    script:
    def stem = "${image_dir}/${field}_${mode}"
    def alpha = mode == 'se' ? "--alpha ${stem}.alpha.fits --alpha-error ${stem}.alpha.error.fits" : ''
    """
    calmodel catalog --image ${stem}.image.tt0.fits ${alpha} --allow-empty --out catalog_${arm}_${field}_${mode} ${task.ext.args ?: ''}
    """

    stub:
    """
    mkdir -p catalog_${arm}_${field}_${mode}
    touch catalog_${arm}_${field}_${mode}/catalog.fits
    echo '{}' > catalog_${arm}_${field}_${mode}/catalog.json
    """
}
