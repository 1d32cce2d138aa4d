#!/bin/bash
# Installs what building and testing rune needs (Debian 12). Safe to run again.
set -euo pipefail

PACKAGES=(
	# build
	meson ninja-build pkg-config gcc clang clang-format
	libjansson-dev libseccomp-dev libcap-dev libcmocka-dev
	libarchive-dev libssl-dev libisal-dev libzstd-dev libcurl4-openssl-dev
	protobuf-c-compiler libprotobuf-c-dev libprotobuf-dev
	# containerd-shim-rune-v2: containerd's shim API (.proto files, compiled at build time)
	golang-github-containerd-containerd-dev
	# lib/crypt: OpenPGP-wrapped layer keys (gpgme drives gpg and gpg-agent)
	libgpgme-dev gnupg gpg-agent
	# lib/sign: registries.d (YAML)
	libyaml-dev
	# lib/store: the union view (FUSE)
	libfuse3-dev fuse3
	# ttrpc interop peer (Go, built offline from Debian's sources)
	golang-go golang-github-containerd-ttrpc-dev
	# tests and peers
	python3-pytest python3-pytest-timeout python3-bcrypt python3-cryptography python3-openssl
	python3-grpcio
	busybox-static
	runc crun podman containerd docker.io procps iproute2 time
	docker-registry skopeo umoci apache2-utils zstd
	libclang-rt-14-dev hyperfine
	# the Debian package (debian/, tests/integration/test_package.py)
	debhelper dpkg-dev fakeroot man-db bash-completion systemd systemd-container
)

missing=()
for p in "${PACKAGES[@]}"; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
	if [ "$(id -u)" -ne 0 ]; then
		echo "setup: need root to install: ${missing[*]}" >&2
		exit 1
	fi
	echo "setup: installing ${missing[*]}"
	export DEBIAN_FRONTEND=noninteractive
	# Installing must not start services (docker.io and docker-registry ship init scripts):
	# without a policy of the machine's own, deny starts for the duration of the install.
	if [ ! -e /usr/sbin/policy-rc.d ]; then
		printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d
		chmod 755 /usr/sbin/policy-rc.d
		trap 'rm -f /usr/sbin/policy-rc.d' EXIT
	fi
	apt-get update -qq
	apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
