/*
 * The report over all tiles. `records` are identity maps (tile, stage, and field, mode, arm
 * where they apply) in the same order as `record_dirs`; each folder is staged under its own
 * records/rNNNNN/ so that equal folder names of different tiles never collide. The script
 * writes manifest.csv (tile,field,mode,arm,stage,path; path relative to the manifest) from
 * the identities, never from folder names. A sweep's points.csv adds its map to the report.
 */
def manifestRows(records, record_dirs) {
    def recordFile = [simulate: 'tile.json', characterize: 'characterize.json', calibrate: 'calibrate.json',
                      build_model: 'build_model.json', image: 'image.json', catalog: 'catalog.json', compare: 'compare.json']
    def dirs = [record_dirs].flatten()
    return records.withIndex().collect { record, i ->
        def path = "${dirs[i]}/${recordFile[record.stage]}"  // as staged: records/rNNNNN/<folder>
        [record.tile, record.field ?: '', record.mode ?: '', record.arm ?: '', record.stage, path].join(',')
    }
}

process REPORT {
    label 'process_single'

    input:
    val records
    path record_dirs, stageAs: 'records/r?????/*'
    path sweep_points, stageAs: 'sweep_points.csv'  // a sweep's points.csv, or [] for none

    output:
    path 'report',       emit: dir
    path 'manifest.csv', emit: manifest

    script:
    def args = task.ext.args ?: ''
    def rows = manifestRows(records, record_dirs)
    def options = sweep_points ? '--sweep sweep_points.csv' : ''  // a fixed name: stageAs above
    """
    cat > manifest.csv <<'MANIFEST'
    tile,field,mode,arm,stage,path
    ${rows.join('\n    ')}
    MANIFEST
    export OMP_NUM_THREADS=${task.cpus}
    calmodel report --manifest manifest.csv ${options} --out report ${args}
    """

    stub:
    def rows = manifestRows(records, record_dirs)
    """
    cat > manifest.csv <<'MANIFEST'
    tile,field,mode,arm,stage,path
    ${rows.join('\n    ')}
    MANIFEST
    mkdir -p report
    echo '<html></html>' > report/report.html
    echo '{}' > report/report.json
    touch report/tables.md
    """
}
