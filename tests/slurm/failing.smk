# A workflow whose one job fails on purpose: run through the SLURM profile, the
# run must end non-zero, name the rule and its log, and not hang
# (tests/test_slurm_cluster.py).


rule all:
    input:
        "out/never.txt",


rule broken_attack:
    output:
        "out/never.txt",
    log:
        "logs/broken_attack.log",
    shell:
        "echo 'this job fails on purpose' > {log}; exit 3"
