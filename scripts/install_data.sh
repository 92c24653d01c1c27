#!/bin/sh
# Installs the official Fashion-MNIST (Zalando's 60,000 / 10,000 IDX files) from Debian's package
# `dataset-fashion-mnist` into /usr/share/datasets/fashion-mnist, where `--data fashion` reads it.
# Needs root (or sudo); does nothing when the files are already there.
set -eu
DIR=/usr/share/datasets/fashion-mnist
if [ -f "$DIR/train-images-idx3-ubyte.gz" ] && [ -f "$DIR/t10k-labels-idx1-ubyte.gz" ]; then
    exit 0
fi
SUDO=""
if [ "$(id -u)" != 0 ]; then
    SUDO=sudo
fi
echo "installing the official Fashion-MNIST (dataset-fashion-mnist) into $DIR" >&2
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq dataset-fashion-mnist >/dev/null
