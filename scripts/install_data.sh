#!/bin/sh
# Installs the official Fashion-MNIST (Zalando's 60,000 / 10,000 IDX files) from Debian's package
# `dataset-fashion-mnist` into /usr/share/datasets/fashion-mnist, where `--data fashion` reads it.
# Needs root (or sudo); does nothing when the files are already there.
set -eu
DIR=/usr/share/datasets/fashion-mnist
if [ -f "$DIR/train-images-idx3-ubyte.gz" ] && [ -f "$DIR/t10k-labels-idx1-ubyte.gz" ]; then
    exit 0
fi
exec "$(dirname "$0")/apt_install.sh" "the official Fashion-MNIST (dataset-fashion-mnist) into $DIR" dataset-fashion-mnist
