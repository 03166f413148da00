process CALMODEL_ENV {
    label 'process_single'

    output:
    path 'calmodel_env.json', emit: json
    path 'calmodel_env.txt',  emit: txt

    script:
    """
    calmodel env --no-nextflow --json calmodel_env.json > calmodel_env.txt
    """

    stub:
    """
    echo '{}' > calmodel_env.json
    touch calmodel_env.txt
    """
}
