#!/usr/bin/env bash
# The GPU measurements (issues 7/19, 15) in as few device calls as possible.
#
#   bash benchmarks/gpu_session.sh prepare   # here, with PyPI: wheels the GPU image lacks + MNIST, into .gpu/
#   bash benchmarks/gpu_session.sh check     # there (device tool, carry [".gpu"]): GPU tests + the profile
#   bash benchmarks/gpu_session.sh speed     # there: the throughput table, and which part of the fast path buys what
#   bash benchmarks/gpu_session.sh quality   # there: fast vs fp32 eager metrics; time to quality (2 × 90 s + FIDs)
#   bash benchmarks/gpu_session.sh ema       # there: issue 15's G_ema vs raw G on CIFAR-10 (prepare packs the split)
#   bash benchmarks/gpu_session.sh probe     # there: which option breaks CUDA-graph capture (a process each)
#
# Each is meant for one device call (at most 10 minutes); run them back to back while the machine is warm.
#
# The GPU image has Python 3.12 and its own torch; it lacks pydantic and torch-fidelity, which
# travel as wheels. Its outputs go to $OUT (the device tool brings them back).
set -euo pipefail
cd "$(dirname "$0")/.."
G=.gpu

prepare() {
    mkdir -p "$(git rev-parse --git-path info)"
    grep -qx '/.gpu/' "$(git rev-parse --git-path info/exclude)" 2>/dev/null || echo '/.gpu/' >> "$(git rev-parse --git-path info/exclude)"
    mkdir -p $G/whl $G/data/MNIST/raw
    # the versions this project's venv resolved; cp312 manylinux wheels for the GPU image's Python
    python3 -m pip download --quiet --no-deps --only-binary=:all: --python-version 3.12 --implementation cp \
        --platform manylinux_2_17_x86_64 --platform manylinux2014_x86_64 -d $G/whl \
        pydantic==2.14.3 pydantic_core==2.50.4 annotated-types==0.8.0 typing-inspection==0.4.5 \
        typing_extensions==4.16.0 torch-fidelity==0.4.0
    for f in ../shared/data/MNIST/raw/*-ubyte; do gzip -c "$f" > $G/data/MNIST/raw/"$(basename "$f")".gz; done
    (cd ../shared/data && tar cf - cifar10-test | gzip -1) > $G/data/cifar10-test.tar.gz
    du -sh $G
}

setup_there() {
    python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site $G/whl/*.whl
    export PYTHONPATH="$PWD/src:$PWD/benchmarks:/tmp/site" PYTHONUNBUFFERED=1
    mkdir -p /tmp/data/MNIST/raw
    for f in $G/data/MNIST/raw/*.gz; do gunzip -c "$f" > /tmp/data/MNIST/raw/"$(basename "$f" .gz)"; done
    nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader
    python3 -c "import torch, sys; print('python', sys.version.split()[0], 'torch', torch.__version__, torch.cuda.get_device_name())"
    date -u
}

check() {
    setup_there
    # the CUDA-graph tests, the fast-path tests, and a short GPU training of the default preset
    python3 -m pytest -q -p no:cacheprovider tests/test_fast.py tests/test_train.py -k "fast or cuda or graph or host" \
        2>&1 | tee "${OUT:-/tmp}/check.log" | tail -25
    python3 -m gankit train --preset digits --set train.steps=300 --set train.device=cuda --out /tmp/run \
        2>&1 | tail -5
    python3 benchmarks/profile_step.py 2>&1 | tee "${OUT:-/tmp}/profile.txt"
}

speed() {
    setup_there
    python3 benchmarks/throughput.py 2>&1 | tee "${OUT:-/tmp}/throughput.md"
    python3 benchmarks/throughput.py --variants --cases dcgan64:64,dcgan64:1024,sngan32:64 2>&1 \
        | tee "${OUT:-/tmp}/variants.md"
}

quality() {
    setup_there
    python3 benchmarks/fast_vs_eager.py --root /tmp/data --seeds 2 2>&1 | tee "${OUT:-/tmp}/fast_vs_eager.md"
    python3 benchmarks/time_to_quality.py --root /tmp/data --budget 90 --points 6 2>&1 | tee "${OUT:-/tmp}/ttq.md"
}

ema() {
    # issue 15 on the GPU, the CPU's arithmetic (fp32 eager: train.fast=false): G_ema against the raw G
    setup_there
    mkdir -p /tmp/data && tar xzf $G/data/cifar10-test.tar.gz -C /tmp/data
    local cifar=(--set data.name=imagefolder --set data.root=/tmp/data/cifar10-test --set train.fast=false)
    python3 benchmarks/ema_quality.py --preset cifar10-dcgan --steps 2000 --every 500 "${cifar[@]}" \
        2>&1 | tee "${OUT:-/tmp}/ema_cifar10_dcgan.md"
    # the presets' 1% ramp, with the 5% one kept beside it (--ramps): the one preset not measured on the CPU
    python3 benchmarks/ema_quality.py --preset cifar10-sngan --steps 1000 --every 250 "${cifar[@]}" --ramps 0.05 \
        2>&1 | tee "${OUT:-/tmp}/ema_cifar10_sngan.md"
}

probe() {
    # which option breaks CUDA-graph capture? each variant in its own process: a failed capture can
    # leave torch's CUDA generator capturing, and every later step of that process fails
    setup_there
    local base=(--preset digits --set train.steps=8 --set train.batch_size=64 --set train.fast=true
        --set train.cuda_graph=true --set train.device=cuda --set train.eval_features=
        --set train.progress=false --set train.tensorboard=false --set train.log_every=1)
    variant() {
        local name=$1 out rc
        shift
        out=$(timeout 120 python3 -m gankit train "${base[@]}" "$@" --out "/tmp/probe/$name" 2>&1)
        rc=$?
        echo "$out" > "${OUT:-/tmp}/probe_$name.log"
        echo "== $name (rc $rc): $(echo "$out" | grep -iE 'graph|capture|compile|error' | head -3 | cut -c1-300)"
    }
    variant base
    variant conditional --set model.conditional=true
    variant ema --set train.ema_kimg=2
    variant translation --set train.augment=translation
    variant cutout --set train.augment=cutout
    variant color --set train.augment=color
    variant hflip --set data.hflip=true
    variant linear --set train.lr_schedule=linear
    variant wgan-gp --set objective.name=wgan-gp --set train.d_steps=2 --set model.batch_norm=false
    variant r1 --set objective.name=hinge --set model.spectral_norm=true --set objective.r1_gamma=1.0
    variant compile --set objective.name=hinge --set model.spectral_norm=true --set train.compile=true
}

"${1:?usage: gpu_session.sh prepare|check|speed|quality|ema|probe}"
