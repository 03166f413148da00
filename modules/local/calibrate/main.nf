// One calibration, used for both arms: meta.arm is 'nomodel' (point-source calibrator,
// no model file; with characterize's uvrange when it decided 'uvrange') or 'model' (the
// spatial model). The target fields it resolved leave the
// task as a value (';'-separated) for the imaging fan-out. calibrated.ms is moved out of
// the record folder: it is large and stays in the work directory.
process CALIBRATE {
    tag "${meta.id}:${meta.arm}"
    label 'process_single'

    input:
    tuple val(meta), path(ms, stageAs: 'input/*'), path(model, stageAs: 'model/*'), val(uvrange)

    output:
    tuple val(meta), path('calibrated.ms'), env(TARGETS), emit: ms
    tuple val(meta), path("calibrate_${meta.arm}"),               emit: record

    script:
    def args = task.ext.args ?: ''
    def options = [
        model ? "--model ${Shell.quote(model)}" : '--model none',
        meta.flux_field ? "--flux-field ${Shell.quote(meta.flux_field)}" : '',
        meta.gain_field ? "--gain-field ${Shell.quote(meta.gain_field)}" : '',
        meta.targets ? "--targets ${Shell.quote(meta.targets.join(','))}" : '',
        uvrange ? "--uvrange ${Shell.quote(Shell.checkUvrange(uvrange))}" : '',
        meta.preset ? '--no-statwt' : '',  // simulated tiles carry exact weights
    ].findAll { option -> option }.join(' ')
    """
    export OMP_NUM_THREADS=${task.cpus}
    calmodel calibrate --ms ${Shell.quote(ms)} ${options} --out calibrate_${meta.arm} ${args}
    mv calibrate_${meta.arm}/calibrated.ms calibrated.ms
    TARGETS=\$(record_value calibrate_${meta.arm}/calibrate.json targets)
    """

    stub:
    // The real stage's layout (calibrated.ms inside the record folder), and the same move.
    """
    mkdir -p calibrate_${meta.arm}/calibrated.ms calibrate_${meta.arm}/caltables calibrate_${meta.arm}/gain_calibrator_model.cl
    touch calibrate_${meta.arm}/apply.callib
    echo '{}' > calibrate_${meta.arm}/calibrate.json
    mv calibrate_${meta.arm}/calibrated.ms calibrated.ms
    TARGETS=${Shell.quote(meta.targets ? meta.targets.join(';') : 'T01')}
    """
}
