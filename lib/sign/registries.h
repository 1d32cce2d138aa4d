/* SPDX-License-Identifier: Apache-2.0 */
/*
 * registries.d (containers-registries.d(5)): where the signatures of images from a registry
 * are read and written. Every *.yaml file of the directory is read, strictly:
 *
 *   default-docker: {lookaside: URL, lookaside-staging: URL, use-sigstore-attachments: bool}
 *   docker:
 *     <host[:port][/namespace...[/repo[:tag|@digest]]]>:
 *       lookaside: file:///... | https://... | http://...   (read; write without staging)
 *       lookaside-staging: file:///...                       (write)
 *       sigstore, sigstore-staging: old names of the two above (not both with the new one)
 *       use-sigstore-attachments: true
 *
 * An unknown key, a duplicate scope (in one file or across files), a second default-docker
 * or an ill-formed scope is an error naming the file and key. For an image each setting comes
 * from the most specific docker: scope that contains it and has that setting (the reference
 * with its tag or digest, the repository, each parent namespace, the host, *.domain), else
 * from default-docker, as containers/image takes them; with no lookaside configured the
 * built-in one is file:///var/lib/containers/sigstore.
 *
 * As containers/image (go-yaml) reads YAML: anchors, aliases and "<<" merge keys; YAML 1.1
 * booleans (true/false, yes/no, on/off); a null value is an absent one (a scope whose section
 * is null is defined, and empty). Beyond what it checks: a scope is host[:port], a namespace
 * or repository below it, an image with its tag or digest in the expanded form
 * (docker.io/library/busybox:latest), or a *.domain wildcard (which lookups try after the
 * host, as containers/image does); a lookaside is file:///path, http:// or https:// (without
 * credentials), a staging one file:///path. Messages: "FILE: docker[\"example.com\"].lookaside:
 * expected string, got mapping", "FILE: line 3 column 5: <YAML syntax error>".
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include "image/reference.h"
#include "util/error.h"

#define SIGN_LOOKASIDE_DEFAULT "file:///var/lib/containers/sigstore"

/* Bounds on what is read: a file larger, a directory with more files, YAML nested deeper or
 * with more nodes, more keys looked at through aliases and "<<" merges, or more docker: scopes
 * in all files together is an error. */
#define SIGN_REGISTRIES_FILE_MAX (1u << 20)
#define SIGN_REGISTRIES_FILES_MAX 1024u
#define SIGN_REGISTRIES_DEPTH_MAX 32u
#define SIGN_REGISTRIES_NODES_MAX 65536u
#define SIGN_REGISTRIES_VISITS_MAX (1u << 20)
#define SIGN_REGISTRIES_SCOPES_MAX 4096u

struct sign_registries;

/* Every *.yaml file under dir, in name order. A directory that does not exist is an empty
 * configuration (as containers/image treats it); one that cannot be read is an error. */
CC_MUST_CHECK struct sign_registries *sign_registries_load(const char *dir, struct cc_error **err);
/* One file's contents (name for messages), merged into r (NULL: a new one, returned). On
 * failure r is left as it was (and still the caller's). */
CC_MUST_CHECK struct sign_registries *sign_registries_parse(struct sign_registries *r,
							    const char *name, const char *buf,
							    size_t len, struct cc_error **err);
void sign_registries_free(struct sign_registries *r);

/* What applies to one image (pointers into r, valid while r is). */
struct sign_registry_config {
	const char *scope;	       /* the most specific scope that contains the image, or
					  "default-docker", or NULL */
	const char *lookaside;	       /* read URL: never NULL (the built-in default when unset) */
	const char *lookaside_staging; /* write URL: staging, else lookaside */
	bool use_sigstore_attachments;
};
void sign_registries_lookup(const struct sign_registries *r, const struct img_ref *ref,
			    struct sign_registry_config *out);
