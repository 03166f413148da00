#!/usr/bin/env nextflow
/*
 * calmodel: does calibrating with a spatial model of a resolved gain calibrator
 * change the science images and catalogues? (VLASS Memo 19)
 *
 * samplesheet -> [simulate] -> characterize -> calibrate (nomodel) -> build-model ->
 * calibrate (model) -> image (arm x field x mode) -> catalog -> compare -> report
 * The processes live in modules/, one per stage; this file only wires them.
 */
include { CALMODEL_ENV } from './modules/env.nf'
include { SIMULATE } from './modules/simulate.nf'
include { CHARACTERIZE } from './modules/characterize.nf'
include { CALIBRATE as CALIBRATE_NOMODEL } from './modules/calibrate.nf'
include { CALIBRATE as CALIBRATE_MODEL } from './modules/calibrate.nf'
include { BUILD_MODEL } from './modules/build_model.nf'
include { IMAGE } from './modules/image.nf'
include { CATALOG } from './modules/catalog.nf'
include { COMPARE } from './modules/compare.nf'
include { REPORT } from './modules/report.nf'

def helpMessage() {
    return """
    calmodel ${workflow.manifest.version}: calibrator spatial models, with numbers (VLASS Memo 19)

    Usage:
      nextflow run . -profile <standard|test|slurm|apptainer>[,...] --input samplesheet.csv --outdir results

    Parameters:
      --input        samplesheet CSV. Required column: tile, and one of
                       ms      path to a measurement set or UVFITS file
                       preset  simulation preset (point, vlass-like, short-spacing, coequal-double)
                     Optional: seed, config (simulation YAML), flux_field, gain_field,
                     targets (fields separated by ;), modes ('ql;se'),
                     build_model (auto|always|never), model (a component list to use instead)
      --outdir       where results are published (default: results)
      --modes        default image modes for rows without 'modes' (default: ${params.modes})
      --build_model  default for rows without 'build_model' (default: ${params.build_model})
      --on_tile_error  finish: stop on a tile's bad input (default); ignore: drop that tile, run the rest
      --slurm_queue, --slurm_options   with -profile slurm
      --container    the .sif image, with -profile apptainer
    Outputs are described in docs/output.md; the report is <outdir>/report/report.html.
    """.stripIndent()
}

def checkRow(row, known, base) {
    def columns = ['tile', 'ms', 'preset', 'seed', 'config', 'flux_field', 'gain_field', 'targets', 'modes', 'build_model', 'model']
    def unknown = row.keySet().findAll { key -> !(key in columns) }
    if (unknown) {
        error("samplesheet: unknown column(s) ${unknown.join(', ')}; allowed: ${columns.join(', ')}")
    }
    def tile = row.tile?.trim()
    if (!tile || !(tile ==~ /[A-Za-z0-9_.-]+/)) {
        error("samplesheet: every row needs a 'tile' id of letters, digits, '_', '-', '.' (got '${row.tile}')")
    }
    if (!row.ms && !row.preset) {
        error("samplesheet: tile '${tile}' needs an 'ms' path or a simulation 'preset'")
    }
    if (row.preset && !(row.preset in known)) {
        error("samplesheet: tile '${tile}': unknown preset '${row.preset}' (known: ${known.join(', ')})")
    }
    def modes = (row.modes ?: params.modes).tokenize(';, ')
    if (!modes || modes.any { m -> !(m in ['ql', 'se']) }) {
        error("samplesheet: tile '${tile}': modes must be ql and/or se (got '${row.modes}')")
    }
    def build = row.build_model ?: params.build_model
    if (!(build in ['auto', 'always', 'never'])) {
        error("samplesheet: tile '${tile}': build_model must be auto, always or never (got '${build}')")
    }
    // Relative paths in the samplesheet are relative to the samplesheet's folder.
    def resolve = { String path -> path ? (path.startsWith('/') || path.contains('://') ? path : "${base}/${path}") : null }
    return [
        id: tile, ms: resolve(row.ms), preset: row.preset ?: null, seed: (row.seed ?: '1') as int,
        config: resolve(row.config), flux_field: row.flux_field ?: null, gain_field: row.gain_field ?: null,
        targets: row.targets ? row.targets.tokenize(';').join(',') : null, modes: modes, build_model: build,
        model: resolve(row.model),
    ]
}

def readJson(path) {
    return new groovy.json.JsonSlurper().parseText(path.text)
}

workflow {
    if (params.help) {
        log.info(helpMessage())
        return
    }
    if (!params.input) {
        error("calmodel: --input samplesheet.csv is required (or use -profile test); see --help")
    }
    def sheet = file(params.input)
    if (!sheet.exists()) {
        error("calmodel: samplesheet not found: ${params.input}")
    }
    def known_presets = files("${projectDir}/src/calmodel/presets/*.yaml").collect { f -> f.baseName }.findAll { n -> n != 'defaults' }

    CALMODEL_ENV()

    def rows = channel.fromPath(sheet).splitCsv(header: true, strip: true).map { row -> checkRow(row, known_presets, sheet.parent) }

    // Inputs: simulated tiles, or measurement sets / UVFITS files given by path.
    SIMULATE(rows.filter { meta -> meta.preset }.map { meta -> [meta, meta.config ? file(meta.config, checkIfExists: true) : []] })
    def given = rows.filter { meta -> !meta.preset }.map { meta -> [meta, file(meta.ms)] }  // a missing file fails that tile only (exit 2)
    def tiles = SIMULATE.out.ms.mix(given)
    def truth = SIMULATE.out.truth.mix(rows.filter { meta -> !meta.preset }.map { meta -> [meta, []] })

    CHARACTERIZE(tiles)
    CALIBRATE_NOMODEL(tiles.map { meta, ms -> [meta, ms, 'nomodel', []] })

    // A model arm when the calibrator needs one (or when asked): self-calibration of the
    // calibrator in the tile itself, unless the samplesheet supplies a model.
    def wanted = tiles
        .join(CHARACTERIZE.out.json)
        .map { meta, ms, json -> [meta, ms, readJson(json)] }
        .filter { meta, ms, record ->
            meta.build_model == 'always' || meta.model || (meta.build_model == 'auto' && record.decisions.values().any { d -> d == 'model-needed' })
        }
    def to_build = wanted.filter { meta, ms, record -> !meta.model }
        .map { meta, ms, record -> [meta, ms, meta.gain_field ?: record.gain_calibrators[0]] }
    BUILD_MODEL(to_build)
    def models = BUILD_MODEL.out.model.mix(wanted.filter { meta, ms, record -> meta.model }.map { meta, ms, record -> [meta, file(meta.model, checkIfExists: true)] })
    CALIBRATE_MODEL(tiles.join(models).map { meta, ms, model -> [meta, ms, 'model', model] })

    // Fan out: arm x target field x image mode.
    def calibrated = CALIBRATE_NOMODEL.out.ms.join(CALIBRATE_NOMODEL.out.json, by: [0, 1])
        .mix(CALIBRATE_MODEL.out.ms.join(CALIBRATE_MODEL.out.json, by: [0, 1]))
    def to_image = calibrated.flatMap { meta, arm, ms, json ->
        readJson(json).fields.targets.collectMany { field -> meta.modes.collect { mode -> [meta, arm, ms, field, mode] } }
    }
    IMAGE(to_image)
    CATALOG(IMAGE.out.images)

    // Compare the two arms of the same tile, field and mode (tiles with a model arm only).
    def keyed = CATALOG.out.catalog.map { meta, arm, field, mode, dir -> [[meta.id, field, mode], arm, meta, dir] }
    def images_nomodel = IMAGE.out.images.filter { meta, arm, field, mode, dir -> arm == 'nomodel' }
        .map { meta, arm, field, mode, dir -> [[meta.id, field, mode], dir] }
    def pairs = keyed.filter { key, arm, meta, dir -> arm == 'model' }.map { key, arm, meta, dir -> [key, meta, dir] }
        .join(keyed.filter { key, arm, meta, dir -> arm == 'nomodel' }.map { key, arm, meta, dir -> [key, dir] })
        .join(images_nomodel)
        .map { key, meta, model_dir, nomodel_dir, image_dir -> [meta.id, meta, key[1], key[2], model_dir, nomodel_dir, image_dir] }
        .combine(truth.map { meta, sky -> [meta.id, sky] }, by: 0)
        .map { id, meta, field, mode, model_dir, nomodel_dir, image_dir, sky -> [meta, field, mode, model_dir, nomodel_dir, sky, image_dir] }
    COMPARE(pairs)

    def records = SIMULATE.out.dir
        .mix(CHARACTERIZE.out.dir, CALIBRATE_NOMODEL.out.dir, CALIBRATE_MODEL.out.dir, BUILD_MODEL.out.dir, COMPARE.out.dir)
        .collect()
    REPORT(records)
}
