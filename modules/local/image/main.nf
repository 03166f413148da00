// One arm x target field (or mosaic: meta.mosaic_fields) x mode (meta.arm, meta.field,
// meta.mode). tclean's gridding uses OpenMP threads, hence task.cpus.
process IMAGE {
    tag "${meta.id}:${meta.arm}:${meta.field}:${meta.mode}"
    label 'process_medium'

    input:
    tuple val(meta), path(ms)

    output:
    tuple val(meta), path("image_${meta.arm}_${meta.field}_${meta.mode}"), emit: images

    script:
    def args = task.ext.args ?: ''
    def field_args = meta.mosaic_fields ? "--mosaic ${Shell.quote(meta.field)} --fields ${Shell.quote(meta.mosaic_fields)}"
                                  : "--field ${Shell.quote(meta.field)}"
    """
    export OMP_NUM_THREADS=${task.cpus}
    calmodel image --ms ${Shell.quote(ms)} ${field_args} --mode ${Shell.quote(meta.mode)} --out ${Shell.quote("image_${meta.arm}_${meta.field}_${meta.mode}")} ${args}
    """

    stub:
    def out = "image_${meta.arm}_${meta.field}_${meta.mode}"
    """
    mkdir -p ${Shell.quote(out)}
    touch ${Shell.quote("${out}/${meta.field}_${meta.mode}.image.tt0.fits")}
    echo '{}' > ${Shell.quote("${out}/image.json")}
    """
}
