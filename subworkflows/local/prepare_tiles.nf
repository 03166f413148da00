/*
 * Validated samplesheet rows -> one meta map per tile (identity only: no paths) and the
 * tile's measurement set: simulated from a preset, or the one the row names.
 */
include { SIMULATE } from '../../modules/local/simulate/main'

workflow PREPARE_TILES {
    take:
    rows       // channel: samplesheet rows, validated and typed (schema_validation.nf)
    sheet_dir  // the samplesheet's folder: relative paths start there
    defaults   // map: modes and build_model for rows that do not set them

    main:
    def resolve = { String path -> path.startsWith('/') || path.contains('://') ? file(path) : sheet_dir.resolve(path) }
    def tiles = rows.map { row ->
        def meta = [
            id:          row.tile,
            preset:      row.preset,
            seed:        row.preset ? (row.seed ?: 1) : null,
            flux_field:  row.flux_field,
            gain_field:  row.gain_field,
            targets:     row.targets ? row.targets.tokenize(';') : null,
            modes:       (row.modes ?: defaults.modes).tokenize(';').unique(),
            build_model: row.build_model ?: defaults.build_model,
            // Images per target field ('none'), one mosaic of all ('all') or NAME:FIELDS groups;
            // an OTF-like simulated stripe is a mosaic by default (README "Samplesheet", docs/imaging.md "Mosaics").
            mosaic:      row.mosaic ?: (row.preset == 'otf-stripe' ? 'all' : 'none'),
        ]
        // Paths travel beside the meta; [] where a row gives none. A missing file fails
        // only its tile (calmodel exits 2), which --on_tile_error ignore then drops.
        [meta, row.ms ? resolve(row.ms) : [], row.config ? resolve(row.config) : [], row.model ? resolve(row.model) : []]
    }
    def simulated = tiles.filter { meta, ms, config, model -> meta.preset }
    def given = tiles.filter { meta, ms, config, model -> !meta.preset }

    SIMULATE(simulated.map { meta, ms, config, model -> [meta, config] })

    emit:
    ms      = SIMULATE.out.ms.mix(given.map { meta, ms, config, model -> [meta, ms] })
    truth   = SIMULATE.out.truth.mix(given.map { meta, ms, config, model -> [meta, []] })  // sky.csv of a simulated tile
    models  = tiles.map { meta, ms, config, model -> [meta, model] }                       // a given component list, or []
    records = SIMULATE.out.record.map { meta, dir -> [[tile: meta.id, stage: 'simulate'], dir] }
}
