#!/bin/bash
# Regenerates the cosign test vectors (cosign-*) in this directory with the openssl CLI alone:
# throwaway keys, a cosign-style payload and its signatures in the form of the
# dev.cosignproject.cosign/signature annotation (standard base64, one line):
#   ECDSA P-256: DER (r,s) over SHA-256 of the payload   (openssl dgst -sha256 -sign)
#   RSA:         PKCS#1 v1.5 with SHA-256                (openssl dgst -sha256 -sign)
#   Ed25519:     over the payload itself                 (openssl pkeyutl -sign -rawin)
# The ENCRYPTED COSIGN/SIGSTORE PRIVATE KEY files have the shape of cosign's encrypted key
# file (PEM around the scrypt + nacl/secretbox JSON) but random salt, nonce and ciphertext:
# they are refused by their PEM type, before anything is decrypted.
set -euo pipefail
cd "$(dirname "$0")"

key() { # name genpkey-args...
	local n=$1
	shift
	openssl genpkey "$@" -out "cosign-$n.pem" 2>/dev/null
	openssl pkey -in "cosign-$n.pem" -pubout -out "cosign-$n-pub.pem"
}
key ec256 -algorithm EC -pkeyopt ec_paramgen_curve:P-256
key ec256-other -algorithm EC -pkeyopt ec_paramgen_curve:P-256
key ec384 -algorithm EC -pkeyopt ec_paramgen_curve:P-384
key secp256k1 -algorithm EC -pkeyopt ec_paramgen_curve:secp256k1
key rsa -algorithm RSA -pkeyopt rsa_keygen_bits:2048
key rsa1024 -algorithm RSA -pkeyopt rsa_keygen_bits:1024
key ed25519 -algorithm ED25519
key ed448 -algorithm ED448
rm cosign-ec256-other.pem cosign-secp256k1.pem cosign-rsa1024.pem cosign-ed448.pem
openssl ec -in cosign-ec256.pem -out cosign-ec256-sec1.pem 2>/dev/null
openssl pkcs8 -topk8 -in cosign-ec256.pem -v2 aes-256-cbc -passout pass:test-password \
	-out cosign-ec256-enc.pem
openssl ec -in cosign-ec256.pem -aes256 -passout pass:test-password \
	-out cosign-ec256-legacy-enc.pem 2>/dev/null
openssl req -x509 -new -key cosign-ec256.pem -subj /CN=cosign-test -days 36500 \
	-out cosign-ec256-cert.pem

for label in COSIGN SIGSTORE; do
	body=$(printf '{"kdf":{"name":"scrypt","params":{"N":32768,"r":8,"p":1},"salt":"%s"},"cipher":{"name":"nacl/secretbox","nonce":"%s"},"ciphertext":"%s"}' \
		"$(openssl rand -base64 32)" "$(openssl rand -base64 24)" \
		"$(openssl rand -base64 154 | tr -d '\n')")
	{
		echo "-----BEGIN ENCRYPTED $label PRIVATE KEY-----"
		printf '%s' "$body" | openssl base64 -e
		echo "-----END ENCRYPTED $label PRIVATE KEY-----"
	} >"cosign-encrypted-${label,,}.key"
done

# The payload as cosign writes it (repository without a tag, optional null).
printf '{"critical":{"identity":{"docker-reference":"registry.example.com/ns/img"},"image":{"docker-manifest-digest":"sha256:47de6ac7a37b3ad8c0a3e3e4bc1f5d3c2be7c1e9c0f1a2b3c4d5e6f708192a0e"},"type":"cosign container image signature"},"optional":null}' \
	>cosign-payload.json
sig() { # name command...
	local n=$1
	shift
	"$@" | openssl base64 -A >"cosign-payload.$n.sig"
}
sig ec256 openssl dgst -sha256 -sign cosign-ec256.pem cosign-payload.json
sig rsa openssl dgst -sha256 -sign cosign-rsa.pem cosign-payload.json
sig ed25519 openssl pkeyutl -sign -inkey cosign-ed25519.pem -rawin -in cosign-payload.json
# Sanity: openssl verifies what it made.
for n in ec256 rsa; do
	openssl base64 -d -A -in "cosign-payload.$n.sig" |
		openssl dgst -sha256 -verify "cosign-$n-pub.pem" -signature /dev/stdin \
			cosign-payload.json >/dev/null
done
openssl base64 -d -A -in cosign-payload.ed25519.sig >/tmp/cosign-regen.$$.sig
openssl pkeyutl -verify -pubin -inkey cosign-ed25519-pub.pem -rawin -in cosign-payload.json \
	-sigfile /tmp/cosign-regen.$$.sig >/dev/null
rm -f /tmp/cosign-regen.$$.sig
echo "cosign-regen: ok"
