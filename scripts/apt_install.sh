#!/bin/sh
# Installs Debian packages for the project's set-up scripts: apt-get as root, or through sudo.
#   scripts/apt_install.sh "what, for the message" PACKAGE...
set -eu
what=$1
shift
SUDO=""
if [ "$(id -u)" != 0 ]; then
    SUDO=sudo
fi
echo "installing $what" >&2
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "$@" >/dev/null
