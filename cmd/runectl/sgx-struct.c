// SPDX-License-Identifier: Apache-2.0
/* REPORT and TARGETINFO decoding (sgx-struct.h), driven by the project's layout header. */
#include <inttypes.h>
#include <string.h>
#include "enclave/sgx_report.h"
#include "runectl.h"
#include "sgx-struct.h"
#include "util/cleanup.h"
#include "util/json.h"

enum field_kind { HEX, NUM16, NUM32, ATTRIBUTES };

struct field {
	const char *name;
	size_t off, size;
	enum field_kind kind;
};

#define BODY(f) offsetof(struct sgx_report_body, f), sizeof(((struct sgx_report_body *)0)->f)
#define TI(f) offsetof(struct sgx_target_info, f), sizeof(((struct sgx_target_info *)0)->f)

static const struct field report_fields[] = {
	{ "cpu_svn", BODY(cpu_svn), HEX },
	{ "misc_select", BODY(misc_select), NUM32 },
	{ "isv_ext_prod_id", BODY(isv_ext_prod_id), HEX },
	{ "attributes", BODY(attributes), ATTRIBUTES },
	{ "mr_enclave", BODY(mr_enclave), HEX },
	{ "mr_signer", BODY(mr_signer), HEX },
	{ "config_id", BODY(config_id), HEX },
	{ "isv_prod_id", BODY(isv_prod_id), NUM16 },
	{ "isv_svn", BODY(isv_svn), NUM16 },
	{ "config_svn", BODY(config_svn), NUM16 },
	{ "isv_family_id", BODY(isv_family_id), HEX },
	{ "report_data", BODY(report_data), HEX },
	{ "key_id", offsetof(struct sgx_report, key_id), SGX_KEYID_SIZE, HEX },
	{ "mac", offsetof(struct sgx_report, mac), SGX_MAC_SIZE, HEX },
};

static const struct field target_info_fields[] = {
	{ "mr_enclave", TI(mr_enclave), HEX },	 { "attributes", TI(attributes), ATTRIBUTES },
	{ "config_svn", TI(config_svn), NUM16 }, { "misc_select", TI(misc_select), NUM32 },
	{ "config_id", TI(config_id), HEX },
};

/* ATTRIBUTES.FLAGS bits by name (Intel SDM; the SDK's names). */
static const struct {
	uint64_t bit;
	const char *name;
} flag_names[] = {
	{ 1u << 0, "INIT" },	      { 1u << 1, "DEBUG" },	     { 1u << 2, "MODE64BIT" },
	{ 1u << 4, "PROVISION_KEY" }, { 1u << 5, "EINITTOKEN_KEY" }, { 1u << 6, "CET" },
	{ 1u << 7, "KSS" },	      { 1u << 10, "AEX_NOTIFY" },
};

json_t *rc_sgx_attributes_json(const uint8_t p[16])
{
	uint64_t flags = rc_le64(p), xfrm = rc_le64(p + 8);
	char text[24];
	json_t *names = json_array();
	for (unsigned bit = 0; bit < 64; bit++) {
		uint64_t b = 1ULL << bit;
		if (!(flags & b))
			continue;
		const char *name = NULL;
		for (size_t i = 0; i < ARRAY_SIZE(flag_names); i++)
			if (flag_names[i].bit == b)
				name = flag_names[i].name;
		snprintf(text, sizeof(text), "bit %u", bit);
		json_array_append_new(names, json_string(name ? name : text));
	}
	json_t *j = json_object();
	snprintf(text, sizeof(text), "0x%016" PRIx64, flags);
	json_object_set_new(j, "flags", json_string(text));
	snprintf(text, sizeof(text), "0x%016" PRIx64, xfrm);
	json_object_set_new(j, "xfrm", json_string(text));
	json_object_set_new(j, "flag_names", names);
	json_object_set_new(j, "debug", json_boolean(flags & SGX_FLAGS_DEBUG));
	return j;
}

static void add_fields(json_t *j, const uint8_t *buf, const struct field *f, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		const uint8_t *p = buf + f[i].off;
		json_t *v = NULL;
		switch (f[i].kind) {
		case HEX: {
			_cleanup_free_ char *hex = rc_hex(p, f[i].size);
			v = json_string(hex);
			break;
		}
		case NUM16:
			v = json_integer(rc_le16(p));
			break;
		case NUM32:
			v = json_integer(rc_le32(p));
			break;
		case ATTRIBUTES:
			v = rc_sgx_attributes_json(p);
			break;
		}
		json_object_set_new(j, f[i].name, v);
	}
}

json_t *rc_sgx_struct_json(const char *name, const uint8_t *buf, size_t len, struct cc_error **err)
{
	json_t *j = json_object();
	if (len == SGX_REPORT_SIZE) {
		struct sgx_report r;
		memcpy(&r, buf, sizeof(r));
		bool sim = sgx_report_is_simulated(&r);
		json_object_set_new(j, "structure", json_string("REPORT"));
		json_object_set_new(j, "type",
				    json_string(sim ? "simulated (not hardware evidence)" : "sgx"));
		json_object_set_new(j, "simulated", json_boolean(sim));
		add_fields(j, buf, report_fields, ARRAY_SIZE(report_fields));
	} else if (len == SGX_TARGETINFO_SIZE) {
		json_object_set_new(j, "structure", json_string("TARGETINFO"));
		add_fields(j, buf, target_info_fields, ARRAY_SIZE(target_info_fields));
	} else {
		json_decref(j);
		cc_error_set(
		    err, 0,
		    "%s: %zu bytes: neither a REPORT (%d bytes) nor a TARGETINFO (%d bytes)", name,
		    len, SGX_REPORT_SIZE, SGX_TARGETINFO_SIZE);
		return NULL;
	}
	return j;
}

void rc_sgx_struct_print(FILE *out, const json_t *j)
{
	const char *structure = json_string_value(json_object_get(j, "structure"));
	bool report = !strcmp(structure, "REPORT");
	fprintf(out, "%s (%d bytes)%s\n", structure, report ? SGX_REPORT_SIZE : SGX_TARGETINFO_SIZE,
		json_is_true(json_object_get(j, "simulated"))
		    ? ": SIMULATED by the skeleton PAL, not hardware evidence"
		    : "");
	const char *key;
	json_t *v;
	json_object_foreach ((json_t *)j, key, v) {
		if (!strcmp(key, "structure") || !strcmp(key, "type") || !strcmp(key, "simulated"))
			continue;
		fprintf(out, "%-16s ", key);
		if (json_is_string(v)) {
			fprintf(out, "%s\n", json_string_value(v));
		} else if (!strcmp(key, "misc_select")) {
			fprintf(out, "0x%08" PRIx64 "\n", (uint64_t)json_integer_value(v));
		} else if (json_is_integer(v)) {
			fprintf(out, "%" JSON_INTEGER_FORMAT "\n", json_integer_value(v));
		} else {
			fprintf(out, "flags %s (", json_string_value(json_object_get(v, "flags")));
			size_t i;
			json_t *name;
			json_array_foreach (json_object_get(v, "flag_names"), i, name)
				fprintf(out, "%s%s", i ? " " : "", json_string_value(name));
			fprintf(out, "), xfrm %s\n", json_string_value(json_object_get(v, "xfrm")));
		}
	}
}
