// SPDX-License-Identifier: Apache-2.0
/* Wrapped layer keys come from registries: parse arbitrary bytes as a JWE and unwrap it with
 * fixed test keys (RSA, EC P-256), and as PKCS#7 EnvelopedData with the RSA key and its
 * certificate. Seeds in corpus/jwe are encrypted to these keys, so the unwrap paths run. */
#include <stdint.h>
#include <string.h>
#include "crypt/jwe.h"
#include "crypt/keys.h"
#include "crypt/pkcs7.h"
#include "util/error.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Throwaway keys made for fuzzing only (RSA-1024 keeps each unwrap attempt cheap). */
static const char rsa_key_and_cert[] =
    "-----BEGIN PRIVATE KEY-----\n"
    "MIICdwIBADANBgkqhkiG9w0BAQEFAASCAmEwggJdAgEAAoGBAOL0+FTTiyv8gYhN\n"
    "AWoGrG/OMJbC7xpF3DEIqOtREUCmH+1wIBwQRtST8z/u+UkZniVAt5knbtWUCf7Q\n"
    "p+fx5MQd/wzweQhsi0nKzrcDV76voH5sJK9mc4X7XBa+kY54ckQKSUFkm6K0d1d3\n"
    "kVgdLp9FfT0Qa8Wdy8lUcngilEonAgMBAAECgYEAtvnzgEgxKxxfvmj/G+EXguiE\n"
    "iffNV6w9Exc9QMLSGwIUOZStfpKs2FQTyFa9im7p7nTX0NVW6UB6MoM866Y83U+x\n"
    "GGfDZhdQCCyCrMqNEUPuM8Li3g8JBvmKpI4MlwAKCIqbuBFzlyn973H6ldaFRjei\n"
    "1bJBcHTYlm0cG0KNszECQQD6er2Hc3aXq0FQrIOLmyRp586+NG3OZNFPL/RNK0FG\n"
    "5wv+DSwTRfOY6ehiH67DKRMxLoVvmjDW5O2A+js3nqEJAkEA5/WCqYt1pih+cVSv\n"
    "d42lGKZvsJ6gXUk9PkDy1iwDzoeHbTe0cvJdy2UTuaTYj8q74aRi9baztiM3rkQ5\n"
    "YLDNrwJAao9XHE3h0Qp5YgHSgM0Cw89rY/3YDStU5JRpIX9aaPiYYH9oFdb3mEFC\n"
    "rKP/7GUIFi9Nczostu9znyBVmwbwSQJBALRWY+d8zVMJWISz2leQgDLR8zPVn8fn\n"
    "EP49cI6iWbNQGzIGhPx5AgMH6nYCe3wPmlKrg2SVTtLkPn31/MX3r3ECQBysE1KF\n"
    "S2LWQv6VJQbKdP3yrQyYfKi7YoC1Gsv4a0dRc017N3r0gK16K29tU/KVFzUcHe3I\n"
    "qa/K8wEJaOKfOjo=\n"
    "-----END PRIVATE KEY-----\n"
    "-----BEGIN CERTIFICATE-----\n"
    "MIIB/DCCAWWgAwIBAgIUGl8JXyBZQmLfXNkIME2cA3pPA20wDQYJKoZIhvcNAQEL\n"
    "BQAwDzENMAsGA1UEAwwEZnV6ejAgFw0yNjExMzAwMDEwNTNaGA8yMTI2MTEwNjAw\n"
    "MTA1M1owDzENMAsGA1UEAwwEZnV6ejCBnzANBgkqhkiG9w0BAQEFAAOBjQAwgYkC\n"
    "gYEA4vT4VNOLK/yBiE0Bagasb84wlsLvGkXcMQio61ERQKYf7XAgHBBG1JPzP+75\n"
    "SRmeJUC3mSdu1ZQJ/tCn5/HkxB3/DPB5CGyLScrOtwNXvq+gfmwkr2ZzhftcFr6R\n"
    "jnhyRApJQWSborR3V3eRWB0un0V9PRBrxZ3LyVRyeCKUSicCAwEAAaNTMFEwHQYD\n"
    "VR0OBBYEFFzFY4+e8/3FuyZTKhwtE7xZGhyjMB8GA1UdIwQYMBaAFFzFY4+e8/3F\n"
    "uyZTKhwtE7xZGhyjMA8GA1UdEwEB/wQFMAMBAf8wDQYJKoZIhvcNAQELBQADgYEA\n"
    "YN1h+/ycdwMja7Mp/9ajEeWCXqYPxdUGpXPtEoI+/CEPo6V7W9szcq3QvB/TK5yo\n"
    "RzSZEuL+RNrm3HvSNeXyxpkme/wB0IihkhsrECG5O7fbLkEw0MhmMXGnREFGQpo8\n"
    "LsXOBeJpgxykvwuOophwmJXgvPVkmtn1PVNdheHTzn8=\n"
    "-----END CERTIFICATE-----\n";

static const char ec_key[] = "-----BEGIN PRIVATE KEY-----\n"
			     "MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQgIRiO+UETGYmj3TMt\n"
			     "2d+pVnl0j+aOj1mkor6l05+A+5qhRANCAARztxX53M7fHx5WQcVr2wTIjOC0GMF7\n"
			     "iS+S6Hw1jxaCXpeMTNLJEUT52F+yxtJMAENnUCzeKdpMp5MPAxas8jrK\n"
			     "-----END PRIVATE KEY-----\n";

static struct crypt_keys *keys;

static void must_say_why(struct cc_error **err)
{
	if (!*err || !(*err)->msg || !(*err)->msg[0])
		__builtin_trap();
	cc_error_free(err);
}

static void load(const char *pem)
{
	struct crypt_buf b = { (unsigned char *)pem, strlen(pem) };
	struct cc_error *err = NULL;
	if (crypt_keyfile_load(keys, "fuzz key", &b, NULL, &err) <= 0)
		__builtin_trap();
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	keys = crypt_keys_new(NULL);
	load(rsa_key_and_cert);
	load(ec_key);
	if (keys->n_pkeys != 2 || keys->n_certs != 1)
		__builtin_trap();
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct cc_error *err = NULL;
	struct crypt_buf plain = { 0 };
	struct crypt_jwe *j = NULL;

	if (crypt_jwe_parse(data, size, &j, &err) < 0) {
		must_say_why(&err);
	} else {
		if (crypt_jwe_n_recipients(j) == 0)
			__builtin_trap();
		if (crypt_jwe_decrypt(j, keys->pkeys, keys->n_pkeys, &plain, &err) < 0)
			must_say_why(&err);
		crypt_buf_wipe(&plain);
		crypt_jwe_free(j);
	}
	if (crypt_pkcs7_decrypt(data, size, keys->pkeys, keys->n_pkeys, keys->certs, keys->n_certs,
				&plain, &err) < 0)
		must_say_why(&err);
	crypt_buf_wipe(&plain);
	return 0;
}
