// PyBDSF components of one image (+ spectral index for SE); PyBDSF uses task.cpus cores.
process CATALOG {
    tag "${meta.id}:${meta.arm}:${meta.field}:${meta.mode}"
    label 'process_medium'

    input:
    tuple val(meta), path(image_dir)

    output:
    tuple val(meta), path("catalog_${meta.arm}_${meta.field}_${meta.mode}"), emit: catalog

    script:
    def args = task.ext.args ?: ''
    def stem = "${image_dir}/${meta.field}_${meta.mode}"
    def alpha = meta.mode == 'se' ? "--alpha ${Shell.quote("${stem}.alpha.fits")} --alpha-error ${Shell.quote("${stem}.alpha.error.fits")}" : ''
    """
    export OMP_NUM_THREADS=${task.cpus}
    calmodel catalog --image ${Shell.quote("${stem}.image.tt0.fits")} ${alpha} --allow-empty --ncores ${task.cpus} --out ${Shell.quote("catalog_${meta.arm}_${meta.field}_${meta.mode}")} ${args}
    """

    stub:
    def out = "catalog_${meta.arm}_${meta.field}_${meta.mode}"
    """
    mkdir -p ${Shell.quote(out)}
    touch ${Shell.quote("${out}/catalog.fits")}
    echo '{}' > ${Shell.quote("${out}/catalog.json")}
    """
}
