process SIMULATE {
    tag "${meta.id}"
    label 'process_single'

    input:
    tuple val(meta), path(config)

    output:
    tuple val(meta), path('tile.ms'), emit: ms
    tuple val(meta), path('simulate/truth/sky.csv'), emit: truth
    path 'simulate', emit: dir

    script:
    def source = config ? "--config ${config}" : "--preset ${meta.preset}"
    """
    calmodel simulate ${source} --seed ${meta.seed} --out simulate ${task.ext.args ?: ''}
    mv simulate/tile.ms tile.ms
    printf '{"tile": "%s"}\\n' '${meta.id}' > simulate/meta.json
    """

    stub:
    """
    mkdir -p tile.ms simulate/truth
    echo 'field,ra_deg,dec_deg,flux_jy' > simulate/truth/sky.csv
    echo '{}' > simulate/tile.json
    """
}
