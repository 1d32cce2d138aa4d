/* SPDX-License-Identifier: Apache-2.0 */
/* What the lib/attest fuzz targets share: a simulated attestation key (a test key, public by
 * design) and the check that a failure is one line with its prefix. */
#pragma once

#include <stdlib.h>
#include <string.h>
#include "util/error.h"

static const char fuzz_sim_key_pem[] =
    "-----BEGIN PRIVATE KEY-----\n"
    "MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQg7h9ds6XF9a4jY2oI\n"
    "LMRUM/e9hplLblxtPXJnV7x8+wuhRANCAAS3jJAZxk1Yjw5Wi4dL7jiOlNBgA3qT\n"
    "1bNfrpbyf3A6ZZ9xse+5N1HCQyFvpk2AkL+bXv9I3o4iW8ZnKt4hKesK\n"
    "-----END PRIVATE KEY-----\n";

static inline void one_line(struct cc_error **err, const char *prefix)
{
	if (!*err || !(*err)->msg || strchr((*err)->msg, '\n') ||
	    strncmp((*err)->msg, prefix, strlen(prefix)))
		abort();
	cc_error_free(err);
}
