/*
 * characterize -> the "nomodel" arm (point-source calibrator) for every tile with target
 * fields, and a "model" arm where the calibrator needs a model: built by self-calibration in
 * the tile, or given by the samplesheet. Each calibrated MS carries meta.arm.
 *
 * A calibrator-only tile (no target field: named in the samplesheet, or found by
 * characterize through core.roles, e.g. 3C273XC1.fits) is characterised and gets its model
 * built (when wanted), but nothing is calibrated or imaged: there is no target to compare.
 */
include { CHARACTERIZE }                    from '../../modules/local/characterize/main'
include { BUILD_MODEL }                     from '../../modules/local/build_model/main'
include { CALIBRATE as CALIBRATE_NOMODEL }  from '../../modules/local/calibrate/main'
include { CALIBRATE as CALIBRATE_MODEL }    from '../../modules/local/calibrate/main'
include { readJson; checkFieldName }        from './schema_validation'

workflow CALIBRATE_ARMS {
    take:
    tile_ms   // channel: [meta, ms]
    models  // channel: [meta, component list given by the samplesheet, or []]

    main:
    def inputSchema = readJson("${projectDir}/assets/schema_input.json")
    CHARACTERIZE(tile_ms)
    // The nomodel arm calibrates as the VLASS pipeline would: on the whole uv-range, or on the
    // range characterize suggests when the calibrator deviates only outside 35-90 klambda.
    // Only tiles with a target to calibrate and image.
    CALIBRATE_NOMODEL(tile_ms.join(CHARACTERIZE.out.decision)
        .filter { meta, ms, decision, calibrator, uvrange, targets -> meta.targets || targets }
        .map { meta, ms, decision, calibrator, uvrange, targets ->
            [meta + [arm: 'nomodel'], ms, [], decision == 'uvrange' ? uvrange : ''] })

    // The model arm: a given model, or build_model 'always', or 'auto' and characterize's
    // decision is model-needed.
    def wanted = CHARACTERIZE.out.decision
        .map { meta, decision, calibrator, uvrange, targets -> [meta, decision, calibrator, uvrange] }
        .join(models)
        .filter { meta, decision, calibrator, uvrange, model ->
            model || meta.build_model == 'always' || (meta.build_model == 'auto' && decision == 'model-needed')
        }
    // (Channels taken by the workflow go straight into process calls: Nextflow 24.10 rejects
    // a `def` whose value names one that was used before.)
    BUILD_MODEL(tile_ms
        .join(wanted.filter { meta, decision, calibrator, uvrange, model -> !model })
        .map { meta, ms, decision, calibrator, uvrange, model -> [meta, ms, checkFieldName(inputSchema, meta.id, 'gain calibrator', calibrator)] })

    def model_for_tile = BUILD_MODEL.out.model
        .mix(wanted.filter { meta, decision, calibrator, uvrange, model -> model }.map { meta, decision, calibrator, uvrange, model -> [meta, model] })
    def targeted = CHARACTERIZE.out.decision
        .filter { meta, decision, calibrator, uvrange, targets -> meta.targets || targets }
        .map { meta, decision, calibrator, uvrange, targets -> [meta, true] }
    CALIBRATE_MODEL(tile_ms.join(targeted).join(model_for_tile)
        .map { meta, ms, has_targets, model -> [meta + [arm: 'model'], ms, model, ''] })

    emit:
    calibrated = CALIBRATE_NOMODEL.out.ms.mix(CALIBRATE_MODEL.out.ms)  // [meta + arm, calibrated.ms, targets 'A;B']
    records    = CHARACTERIZE.out.record.map { meta, dir -> [[tile: meta.id, stage: 'characterize'], dir] }
        .mix(BUILD_MODEL.out.record.map { meta, dir -> [[tile: meta.id, stage: 'build_model'], dir] })
        .mix(CALIBRATE_NOMODEL.out.record.mix(CALIBRATE_MODEL.out.record)
            .map { meta, dir -> [[tile: meta.id, arm: meta.arm, stage: 'calibrate'], dir] })
}
