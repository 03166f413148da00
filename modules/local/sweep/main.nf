// A calibrator-structure sweep expanded into simulated tiles (docs/sweep.md): the
// samplesheet the workflow then runs, one simulation config per grid point, and points.csv
// that places each tile on the report's map.
process SWEEP {
    tag "${sweep.baseName}"
    label 'process_single'

    input:
    path sweep

    output:
    path 'sweep/samplesheet.csv', emit: samplesheet
    path 'sweep/points.csv',      emit: points
    path 'sweep',                 emit: record

    script:
    def args = task.ext.args ?: ''
    """
    calmodel sweep --sweep ${Shell.quote(sweep)} --out sweep ${args}
    """

    stub:
    """
    mkdir -p sweep/configs
    printf 'tile,preset,seed,config,modes,build_model\nr1_sep1_alpha-0.7_n1_seed1,point,1,,ql,always\n' > sweep/samplesheet.csv
    printf 'tile,flux_ratio,separation_beams,separation_arcsec,secondary_alpha,n_secondaries,seed\nr1_sep1_alpha-0.7_n1_seed1,1,1,1.85,-0.7,1,1\n' > sweep/points.csv
    echo '{}' > sweep/sweep.json
    """
}
