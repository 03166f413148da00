/*
 * Each calibrated arm -> image (target field x mode) -> catalog; then the two arms of the
 * same tile, field and mode are paired and compared (with the truth of a simulated tile).
 */
include { IMAGE }                           from '../../modules/local/image/main'
include { CATALOG }                         from '../../modules/local/catalog/main'
include { COMPARE }                         from '../../modules/local/compare/main'
include { readJson; checkFieldName }        from './schema_validation'

workflow IMAGE_AND_COMPARE {
    take:
    calibrated  // channel: [meta + arm, calibrated.ms, target fields 'A;B']
    truth       // channel: [meta, sky.csv of a simulated tile, or []]

    main:
    def inputSchema = readJson("${projectDir}/assets/schema_input.json")
    // One image per target field, or per mosaic (meta.mosaic: 'all' = every target field in
    // one image named 'mosaic'; 'NAME:FIELDS;...' = named groups, checked by schema_input.json).
    def to_image = calibrated.flatMap { meta, ms, targets ->
        def fields = targets.tokenize(';')
        fields.each { field -> checkFieldName(inputSchema, meta.id, 'target field', field) }
        def images = (meta.mosaic ?: 'none') == 'none' ? fields.collect { field -> [field, null] }
            : meta.mosaic == 'all' ? [['mosaic', fields.join(',')]]
            : meta.mosaic.tokenize(';').collect { group -> group.tokenize(':') }
        // A mosaic's name names its outputs and the report's rows: unique within the tile,
        // and never a target field's name (the report would cut its truth to that field).
        def names = images.collect { name, members -> name }
        def clash = names.find { name -> names.count(name) > 1 || (meta.mosaic != 'none' && name in fields) }
        if (clash) {
            error("calmodel: tile ${meta.id}: mosaic name '${clash}' is used twice or is a target field's name; name each mosaic group uniquely")
        }
        images.collectMany { name, members ->
            meta.modes.collect { mode -> [meta + [field: name, mosaic_fields: members, mode: mode], ms] }
        }
    }
    IMAGE(to_image)
    CATALOG(IMAGE.out.images)

    // Pairing: the key of a catalogue is its meta without the arm (tile, field, mode and the
    // tile's settings), the same for both arms. Tiles without a model arm find no partner.
    def withoutArm = { meta -> meta.findAll { key, value -> key != 'arm' } }
    def byArm = CATALOG.out.catalog.branch { meta, dir ->
        model: meta.arm == 'model'
        nomodel: meta.arm == 'nomodel'
    }
    def pairs = byArm.model.map { meta, dir -> [withoutArm(meta), dir] }
        .join(byArm.nomodel.map { meta, dir -> [withoutArm(meta), dir] })  // [meta, model catalogue, nomodel catalogue]
    // The truth belongs to the tile: attach it by tile id.
    def to_compare = pairs
        .map { meta, model_dir, nomodel_dir -> [meta.id, meta, model_dir, nomodel_dir] }
        .combine(truth.map { meta, sky -> [meta.id, sky] }, by: 0)
        .map { id, meta, model_dir, nomodel_dir, sky -> [meta, model_dir, nomodel_dir, sky] }
    COMPARE(to_compare)

    def identity = { meta, stage -> [tile: meta.id, field: meta.field, mode: meta.mode, arm: meta.arm, stage: stage] }
    emit:
    records = IMAGE.out.images.map { meta, dir -> [identity(meta, 'image'), dir] }
        .mix(CATALOG.out.catalog.map { meta, dir -> [identity(meta, 'catalog'), dir] })
        .mix(COMPARE.out.record.map { meta, dir -> [identity(meta, 'compare'), dir] })
}
