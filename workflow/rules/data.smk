# Data sets. CIFAR comes from the internet (users' machines); the embedded
# photographs and digits ship inside installed packages (any machine).


rule embedded_images:
    output:
        train="data/embedded/cifar-100-python/train",
        test="data/embedded/cifar-100-python/test",
    log:
        "logs/data/embedded_images.log",
    conda:
        CONDA_ENV
    shell:
        "sharegrad data embedded --root data/embedded > {log} 2>&1"


rule digits:
    output:
        "data/digits/digits.npz",
    log:
        "logs/data/digits.log",
    conda:
        CONDA_ENV
    shell:
        "sharegrad data digits --out {output} > {log} 2>&1"


rule cifar100:
    output:
        train="data/cifar/cifar-100-python/train",
        test="data/cifar/cifar-100-python/test",
    log:
        "logs/data/cifar100.log",
    retries: 2
    conda:
        CONDA_ENV
    shell:
        "sharegrad data cifar --name cifar100 --root data/cifar > {log} 2>&1"


rule cifar10:
    output:
        train="data/cifar/cifar-10-batches-py/data_batch_1",
        test="data/cifar/cifar-10-batches-py/test_batch",
    log:
        "logs/data/cifar10.log",
    retries: 2
    conda:
        CONDA_ENV
    shell:
        "sharegrad data cifar --name cifar10 --root data/cifar > {log} 2>&1"
