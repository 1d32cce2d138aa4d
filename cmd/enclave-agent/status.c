// SPDX-License-Identifier: Apache-2.0
/* lib/image error classes to ttrpc status codes. See agent.h and docs/agent.md. */
#include "agent.h"
#include "image/error.h"

int agent_status_code(int img_code, bool deadline_passed)
{
	switch (img_code) {
	case IMG_ERR_REFERENCE:
		return TT_INVALID_ARGUMENT;
	case IMG_ERR_NOT_FOUND:
		return TT_NOT_FOUND;
	case IMG_ERR_UNAUTHENTICATED:
		return TT_UNAUTHENTICATED;
	case IMG_ERR_DENIED:
		return TT_PERMISSION_DENIED;
	case IMG_ERR_UNAVAILABLE:
		return TT_UNAVAILABLE;
	case IMG_ERR_INTEGRITY:
		return TT_DATA_LOSS;
	case IMG_ERR_INVALID:
		/* The image exists but cannot be used as it is (malformed, unsupported, encrypted
		 * without a key): retrying will not help until something changes. */
		return TT_FAILED_PRECONDITION;
	case IMG_ERR_POLICY:
		/* The owner's signature policy does not allow this image. */
		return TT_PERMISSION_DENIED;
	case IMG_ERR_POLICY_CONFIG:
		/* The policy, registries.d or a key file it names cannot be used. */
		return TT_FAILED_PRECONDITION;
	case IMG_ERR_CANCELLED:
		return deadline_passed ? TT_DEADLINE_EXCEEDED : TT_CANCELLED;
	default:
		/* IMG_ERR_IO and anything unclassified: the agent's own trouble. */
		return TT_INTERNAL;
	}
}
