/*
 * calmodel: samplesheet -> [simulate] -> characterize -> calibrate (nomodel) ->
 * build-model -> calibrate (model) -> image (arm x field x mode) -> catalog -> compare -> report
 * (with the sweep's map when the tiles come from a sweep)
 */
include { CALMODEL_ENV }       from '../modules/local/calmodel_env/main'
include { REPORT }             from '../modules/local/report/main'
include { PREPARE_TILES }      from '../subworkflows/local/prepare_tiles'
include { CALIBRATE_ARMS }     from '../subworkflows/local/calibrate_arms'
include { IMAGE_AND_COMPARE }  from '../subworkflows/local/image_and_compare'

workflow CALMODEL {
    take:
    rows          // channel: validated samplesheet rows
    sheet_dir     // the samplesheet's folder
    defaults      // map: modes, build_model
    sweep_points  // channel: a sweep's points.csv (the report's map), or [] for a samplesheet

    main:
    CALMODEL_ENV()
    PREPARE_TILES(rows, sheet_dir, defaults)
    CALIBRATE_ARMS(PREPARE_TILES.out.ms, PREPARE_TILES.out.models)
    IMAGE_AND_COMPARE(CALIBRATE_ARMS.out.calibrated, PREPARE_TILES.out.truth)

    // Every stage record with its identity, in a fixed order (so that -resume finds the
    // report's inputs unchanged); REPORT writes them as manifest.csv.
    def order = { record -> [record.tile, record.stage, record.field ?: '', record.mode ?: '', record.arm ?: ''].join('\t') }
    def records = PREPARE_TILES.out.records
        .mix(CALIBRATE_ARMS.out.records, IMAGE_AND_COMPARE.out.records)
        .toSortedList { a, b -> order(a[0]) <=> order(b[0]) }
    REPORT(records.map { list -> list.collect { record -> record[0] } }, records.map { list -> list.collect { record -> record[1] } },
           sweep_points)
}
