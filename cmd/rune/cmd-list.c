// SPDX-License-Identifier: Apache-2.0
#include <stdio.h>
#include <string.h>
#include "rune.h"
#include "util/cleanup.h"
#include "util/json.h"

/* Columns as runc's tabwriter lays them out: width = max(min 12, longest cell + 3 padding),
 * last column unpadded. */
static void print_table(json_t *list)
{
	static const char *const head[] = { "ID", "PID", "STATUS", "BUNDLE", "CREATED", "OWNER" };
	size_t rows = json_array_size(list);
	char *(*cells)[6] = xcalloc(rows + 1, sizeof(*cells));
	size_t width[6];
	for (int c = 0; c < 6; c++) {
		cells[0][c] = xstrdup(head[c]);
		width[c] = 0;
	}
	for (size_t r = 0; r < rows; r++) {
		json_t *o = json_array_get(list, r);
		cells[r + 1][0] = xstrdup(json_string_value(json_object_get(o, "id")));
		cells[r + 1][1] =
		    xasprintf("%lld", (long long)json_integer_value(json_object_get(o, "pid")));
		cells[r + 1][2] = xstrdup(json_string_value(json_object_get(o, "status")));
		cells[r + 1][3] = xstrdup(json_string_value(json_object_get(o, "bundle")));
		cells[r + 1][4] = xstrdup(json_string_value(json_object_get(o, "created")));
		cells[r + 1][5] = xstrdup(json_string_value(json_object_get(o, "owner")));
	}
	for (size_t r = 0; r <= rows; r++)
		for (int c = 0; c < 5; c++) {
			size_t w = strlen(cells[r][c]) + 3;
			if (w > width[c])
				width[c] = w;
		}
	for (size_t r = 0; r <= rows; r++) {
		for (int c = 0; c < 6; c++) {
			if (c < 5)
				printf("%-*s", (int)(width[c] < 12 ? 12 : width[c]), cells[r][c]);
			else
				printf("%s\n", cells[r][c]);
			free(cells[r][c]);
		}
	}
	free(cells);
}

static int list_main(struct rt_context *ctx, int argc, char **argv)
{
	static const struct option opts[] = { { "format", required_argument, NULL, 'f' },
					      { "quiet", no_argument, NULL, 'q' },
					      { 0 } };
	struct cc_error *err = NULL;
	const char *format = "table";
	bool quiet = false;
	int c;
	while ((c = cmd_getopt(&cmd_list, argc, argv, "f:q", opts)) != -1) {
		if (c == 'f')
			format = optarg;
		else if (c == 'q')
			quiet = true;
	}
	cmd_require_args(&cmd_list, argc, 0);
	if (strcmp(format, "table") && strcmp(format, "json"))
		return cmd_failf("invalid format option \"%s\"", format);
	_cleanup_json_ json_t *list = rt_container_list(ctx, &err);
	if (!list)
		return cmd_fail(err);
	if (quiet) {
		size_t i;
		json_t *o;
		json_array_foreach (list, i, o)
			printf("%s\n", json_string_value(json_object_get(o, "id")));
	} else if (!strcmp(format, "json")) {
		char *s = json_dumps(list, JSON_COMPACT | JSON_PRESERVE_ORDER);
		printf("%s\n", json_array_size(list) ? s : "null");
		free(s);
	} else {
		print_table(list);
	}
	return 0;
}

const struct rune_cmd cmd_list = {
	"list", "list containers started by rune with the given root", "[options]",
	"   --format value, -f value  table or json (default: \"table\")\n"
	"   --quiet, -q               display only container ids\n",
	list_main
};
