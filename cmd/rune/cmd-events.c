// SPDX-License-Identifier: Apache-2.0
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include "rune.h"
#include "util/cleanup.h"
#include "util/json.h"

static int print_stats(struct rt_context *ctx, const char *id)
{
	struct cc_error *err = NULL;
	_cleanup_json_ json_t *ev = rt_container_stats(ctx, id, &err);
	if (!ev && err && !strcmp(err->msg, "container not running")) {
		cc_error_free(&err);
		return cmd_failf("container with id %s is not running", id);
	}
	if (!ev)
		return cmd_fail(err);
	char *s = json_dumps(ev, JSON_COMPACT);
	printf("%s\n", s);
	fflush(stdout);
	free(s);
	return 0;
}

/* "5s", "100ms", "1m", or plain seconds. */
static int parse_interval(const char *s, double *secs)
{
	char *end;
	double v = strtod(s, &end);
	if (end == s || v <= 0)
		return -1;
	if (!strcmp(end, "ms"))
		v /= 1000;
	else if (!strcmp(end, "m"))
		v *= 60;
	else if (strcmp(end, "s") && *end)
		return -1;
	*secs = v;
	return 0;
}

static void print_event(const char *type, const char *id)
{
	_cleanup_json_ json_t *ev = json_pack("{s:s,s:s}", "type", type, "id", id);
	_cleanup_free_ char *text = json_dumps(ev, JSON_COMPACT | JSON_PRESERVE_ORDER);
	printf("%s\n", text);
	fflush(stdout);
}

/* Like runc: a stats event every interval and an "oom" event whenever the kernel OOM-kills in
 * the container; until the container stops. OOM kills are noticed within a tick. */
static int stream_events(struct rt_context *ctx, const char *id, double interval)
{
	const double tick = interval < 0.25 ? interval : 0.25;
	struct cc_error *err = NULL;
	uint64_t ooms = 0;
	if (rt_container_oom_count(ctx, id, &ooms, &err) < 0)
		return cmd_fail(err);
	if (print_stats(ctx, id) != 0)
		return 1;
	for (double waited = 0;;) {
		struct timespec ts = { (time_t)tick, (long)((tick - (double)(time_t)tick) * 1e9) };
		nanosleep(&ts, NULL);
		waited += tick;
		uint64_t now;
		if (rt_container_oom_count(ctx, id, &now, &err) < 0) {
			/* The container stopped: the stream ends (runc 1.1 keeps polling a
			 * stopped container; whoever follows the stream wants to know). */
			cc_error_free(&err);
			return 0;
		}
		for (; ooms < now; ooms++)
			print_event("oom", id);
		if (waited + 1e-9 >= interval) {
			waited = 0;
			if (print_stats(ctx, id) != 0)
				return 1;
		}
	}
}

static int events_main(struct rt_context *ctx, int argc, char **argv)
{
	static const struct option opts[] = { { "interval", required_argument, NULL, 'i' },
					      { "stats", no_argument, NULL, 's' },
					      { 0 } };
	double interval = 5;
	bool stats = false;
	int c;
	while ((c = cmd_getopt(&cmd_events, argc, argv, "", opts)) != -1) {
		if (c == 's')
			stats = true;
		else if (c == 'i' && parse_interval(optarg, &interval) < 0)
			return cmd_failf("events: invalid interval \"%s\"", optarg);
	}
	cmd_require_args(&cmd_events, argc, 1);
	const char *id = argv[optind];
	if (stats)
		return print_stats(ctx, id);
	return stream_events(ctx, id, interval);
}

const struct rune_cmd cmd_events = {
	"events", "display container events such as OOM notifications and resource statistics",
	"[options] <container-id>",
	"   --interval value         time between stats reports (default: 5s)\n"
	"   --stats                  display the container's stats once, then exit\n",
	events_main
};
