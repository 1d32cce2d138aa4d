// SPDX-License-Identifier: Apache-2.0
/*
 * libFuzzer target for a containers auth.json / docker config.json: load_credentials() for a
 * registry domain the first input byte picks, reading the rest of the input as the file
 * (a memfd), then the base64 "auth" decoder alone on the same bytes. Credentials that come
 * out are a user without ':' and a password, neither with a NUL byte inside.
 */
#include <sys/mman.h>
#include <unistd.h>
#include "registry-harness.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_creds(const char *user, const char *pass)
{
	if (!user || !pass || strchr(user, ':'))
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char *const domains[] = { "docker.io", "127.0.0.1:5000", "quay.io",
					       "registry.example" };
	static int fd = -1;
	static char path[64];
	struct img_registry *r;
	char *user = NULL, *pass = NULL;

	if (size < 1)
		return 0;
	if (fd < 0) {
		fd = memfd_create("auth.json", MFD_CLOEXEC);
		if (fd < 0)
			abort();
		snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	}
	if (ftruncate(fd, 0) < 0 || pwrite(fd, data + 1, size - 1, 0) != (ssize_t)(size - 1))
		abort();
	r = fz_registry();
	load_credentials(r, domains[data[0] % ARRAY_SIZE(domains)], path);
	if (r->user || r->pass)
		check_creds(r->user, r->pass);
	img_registry_close(r);

	_cleanup_free_ char *text = xstrndup((const char *)data + 1, size - 1);
	if (b64_credentials(text, &user, &pass)) {
		check_creds(user, pass);
		wipe_free(user);
		wipe_free(pass);
	} else if (user || pass) {
		abort();
	}
	return 0;
}
