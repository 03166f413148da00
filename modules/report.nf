process REPORT {
    label 'process_single'

    input:
    path records, stageAs: 'inputs/in??/*'

    output:
    path 'report', emit: dir

    script:
    """
    calmodel report --out report inputs ${task.ext.args ?: ''}
    """

    stub:
    """
    mkdir -p report
    echo '<html></html>' > report/report.html
    echo '{}' > report/report.json
    touch report/tables.md
    """
}
