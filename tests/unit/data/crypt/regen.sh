#!/bin/bash
# Regenerates the crypt test vectors in this directory (see README.md). Needs openssl, gpg,
# skopeo (1.9.3 was used), tar, gzip, sha256sum; no network: skopeo only copies between local
# oci: layouts. The keys are throwaway test keys made here.
set -euo pipefail
cd "$(dirname "$0")"
work=$(mktemp -d /tmp/crypt-regen.XXXXXX)
trap 'gpgconf --homedir "$work/gnupg" --kill all 2>/dev/null || true; rm -rf "$work"' EXIT

# ---- keys ----
openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out rsa.pem 2>/dev/null
openssl pkey -in rsa.pem -pubout -out rsa-pub.pem
openssl pkey -in rsa.pem -outform DER -out rsa.der
openssl rsa -in rsa.pem -traditional -out rsa-pkcs1.pem 2>/dev/null
openssl pkcs8 -topk8 -in rsa.pem -v2 aes-256-cbc -passout pass:test-password -out rsa-enc.pem
openssl rsa -in rsa.pem -traditional -aes256 -passout pass:test-password \
	-out rsa-legacy-enc.pem 2>/dev/null
openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out rsa-other.pem 2>/dev/null
for c in P-256 P-384 P-521; do
	n=ec${c#P-}
	openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:$c -out $n.pem
	openssl pkey -in $n.pem -pubout -out $n-pub.pem
done
openssl ec -in ec256.pem -out ec256-sec1.pem 2>/dev/null
openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out pkcs7-key.pem 2>/dev/null
openssl req -x509 -new -key pkcs7-key.pem -subj /CN=crypt-test -days 36500 -out pkcs7-cert.pem

# OpenPGP: RSA only (skopeo 1.9.3's x/crypto/openpgp cannot encrypt to ECC keys).
export GNUPGHOME=$work/gnupg
mkdir -m 700 "$GNUPGHOME"
for who in a b; do
	pass="%no-protection"
	[ $who = b ] && pass="Passphrase: pgp-password"
	gpg --batch --gen-key 2>/dev/null <<KEY
Key-Type: RSA
Key-Length: 2048
Subkey-Type: RSA
Subkey-Length: 2048
Name-Real: crypt test $who
Name-Email: $who@crypt.test
Expire-Date: 0
$pass
%commit
KEY
done
gpg --batch --export-secret-keys a@crypt.test >pgp-a.gpg
gpg --batch --pinentry-mode loopback --passphrase pgp-password \
	--export-secret-keys b@crypt.test >pgp-b.gpg

# ---- a one-layer OCI image ----
mkdir -p "$work/rootfs" "$work/src/blobs/sha256"
echo "hello from an encrypted layer" >"$work/rootfs/hello.txt"
tar --sort=name --mtime=@0 --owner=0 --group=0 --numeric-owner -C "$work/rootfs" -cf "$work/layer.tar" .
gzip -9n <"$work/layer.tar" >layer.tar.gz
put() { # file -> digest hex; copies into the layout
	local d
	d=$(sha256sum "$1" | cut -d' ' -f1)
	cp "$1" "$work/src/blobs/sha256/$d"
	echo "$d"
}
layer=$(put layer.tar.gz)
diffid=$(sha256sum "$work/layer.tar" | cut -d' ' -f1)
printf '{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":["sha256:%s"]}}' \
	"$diffid" >"$work/config.json"
config=$(put "$work/config.json")
cp "$work/config.json" config.json
printf '{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"sha256:%s","size":%d},"layers":[{"mediaType":"application/vnd.oci.image.layer.v1.tar+gzip","digest":"sha256:%s","size":%d}]}' \
	"$config" "$(stat -c %s "$work/config.json")" "$layer" "$(stat -c %s layer.tar.gz)" >"$work/manifest.json"
manifest=$(put "$work/manifest.json")
printf '{"schemaVersion":2,"manifests":[{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"sha256:%s","size":%d,"annotations":{"org.opencontainers.image.ref.name":"latest"}}]}' \
	"$manifest" "$(stat -c %s "$work/manifest.json")" >"$work/src/index.json"
echo '{"imageLayoutVersion":"1.0.0"}' >"$work/src/oci-layout"

# ---- encrypt with skopeo; keep the layer's annotations and ciphertext ----
extract() { # layout name
	local m l
	m=$(sed 's/.*"digest":"sha256:\([0-9a-f]*\)".*/\1/' "$work/$1/index.json")
	l=$(tr -d '\n' <"$work/$1/blobs/sha256/$m" | sed 's/.*"layers":\[\(.*\)\].*/\1/')
	echo "$l" >"$2.descriptor.json"
	cp "$work/$1/blobs/sha256/$(echo "$l" | sed 's/.*"digest":"sha256:\([0-9a-f]*\)".*/\1/')" "$2.blob"
}
skopeo copy -q --encryption-key jwe:rsa-pub.pem oci:"$work/src":latest oci:"$work/jwe-rsa":latest
extract jwe-rsa jwe-rsa
skopeo copy -q --encryption-key jwe:ec256-pub.pem oci:"$work/src":latest oci:"$work/jwe-ec":latest
extract jwe-ec jwe-ec
skopeo copy -q --encryption-key jwe:rsa-pub.pem --encryption-key jwe:ec256-pub.pem \
	--encryption-key jwe:ec384-pub.pem --encryption-key jwe:ec521-pub.pem \
	--encryption-key pkcs7:pkcs7-cert.pem --encryption-key pgp:a@crypt.test \
	--encryption-key pgp:b@crypt.test oci:"$work/src":latest oci:"$work/multi":latest
extract multi multi
# Round trip with skopeo itself, as a sanity check of the vectors.
skopeo copy -q --decryption-key rsa.pem oci:"$work/multi":latest oci:"$work/dec":latest
echo "regen: ok"
