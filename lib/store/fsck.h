/* SPDX-License-Identifier: Apache-2.0 */
/*
 * fsck of a store (docs/store.md, "fsck"): every object the index reaches verified to its last
 * chunk and parsed (the index, every layer record, directory, file, link, node and spilled
 * xattrs), every name's type against its object's, every hard link count of a record against
 * the names that reach the object, every record id against the one its diff_id gives; then
 * what lies on the host besides: objects nothing reaches, tmp/ leftovers, files under objects/
 * that are not objects. It writes nothing, ever (store_open_readonly): it reports.
 *
 * It keeps going after damage: every damaged object is reported once, with the layer and the
 * path that reaches it; a damaged directory's subtree cannot be walked, and is reported once,
 * as the directory. File contents are streamed (one chunk of memory); a directory's entries
 * are held while it is walked, as the layer reader does.
 */
#pragma once

#include <stddef.h>
#include <stdint.h>
#include "store/store.h"
#include "util/error.h"

/* How bad a reported line is. */
enum store_fsck_severity {
	/* What the store tolerates and tidies itself: objects nothing reaches (garbage
	 * collection removes them), tmp/ leftovers (store_open removes them), files under
	 * objects/ that are not objects (ignored by the store). */
	STORE_FSCK_WARNING = 1,
	/* Damage: an object that is missing, does not verify or parse, or disagrees with what
	 * refers to it. Reading the affected files fails with EIO. */
	STORE_FSCK_DAMAGE = 2,
};

struct store_fsck_report {
	size_t layers;		/* layers the index lists */
	size_t objects_checked; /* distinct objects verified whole (content and attributes) */
	size_t bytes_checked;	/* their content bytes (plaintext), each object once */
	size_t damaged;		/* damage lines: objects that failed to verify or parse, missing
				   ones, names or records that disagree with their objects */
	size_t unreferenced;	/* objects nothing reaches (or below damage fsck could not walk
				   past: the line says so) */
	size_t leftovers;	/* entries in tmp/ */
	size_t strays;		/* files under objects/ that are not named as objects */
};

/*
 * Check the store at root with the 32-byte store key. Every problem is one line given to
 * line(ctx, severity, text) (line may be NULL), e.g.
 *   "layer sha256:ab12..: usr/bin/sh: object 1f2e3d4c5b6a7988: chunk 3: does not authenticate"
 *   "object 9a8b7c6d5e4f3021: unreferenced (garbage collection removes it)"
 *   "tmp/3f0c..: left by an interrupted write (opening the store removes it)"
 * (paths are relative to the layer's root, "/" for the root itself; bytes of a name that are
 * not printable ASCII, and '\', are shown as \xNN). *rep (when not NULL) receives the counts.
 * Returns 0 when the store is whole (warnings allowed), 1 when damage was found, and -1 with
 * *err when fsck could not run: a wrong key ("store ROOT: wrong store key", EIO), a root that
 * is not a store or cannot be read, a store in use (EBUSY: another opener holds its lock).
 * A pointer that opens under the key but names an index object that does not verify or parse
 * is damage (1), reported as "store ROOT: index: ..."; no object is then called unreferenced
 * (nothing could be reached), but tmp/ leftovers and strays still are.
 */
CC_MUST_CHECK int store_fsck(const char *root, const uint8_t key[STORE_KEY_LEN],
			     void (*line)(void *ctx, int severity, const char *text), void *ctx,
			     struct store_fsck_report *rep, struct cc_error **err);
