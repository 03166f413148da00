// A simulated tile and its truth. tile.ms is moved out of the record folder: it is large
// and stays in the work directory.
process SIMULATE {
    tag "${meta.id}"
    label 'process_single'

    input:
    tuple val(meta), path(config)

    output:
    tuple val(meta), path('tile.ms'),                 emit: ms
    tuple val(meta), path('simulate/truth/sky.csv'),  emit: truth
    tuple val(meta), path('simulate'),                emit: record

    script:
    def args = task.ext.args ?: ''
    def source = config ? "--config ${Shell.quote(config)}" : "--preset ${Shell.quote(meta.preset)}"
    """
    export OMP_NUM_THREADS=${task.cpus}
    calmodel simulate ${source} --seed ${Shell.quote(meta.seed)} --out simulate ${args}
    mv simulate/tile.ms tile.ms
    """

    stub:
    // The real stage's layout (tile.ms inside the record folder), and the same move.
    """
    mkdir -p simulate/tile.ms simulate/truth/calibrator.cl
    mv simulate/tile.ms tile.ms
    echo 'field,ra_deg,dec_deg,flux_jy' > simulate/truth/sky.csv
    echo '{}' > simulate/tile.json
    """
}
