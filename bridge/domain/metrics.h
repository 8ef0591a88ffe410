/* SPDX-License-Identifier: MIT
 *
 * metrics.h - a registry of counter and gauge families rendered as
 * Prometheus text (exposition format 0.0.4), and the JSON body of
 * GET /healthz built from plain values.  Pure module: it knows no hub,
 * no Pusher and no counter by name; which counters exist is the engine's
 * view (metrics_view.c).  docs/protocol.md lists what /metrics carries.
 */
#ifndef SB_METRICS_H
#define SB_METRICS_H

#include <stddef.h>
#include <stdint.h>

#include "sb_common.h"

enum sb_metrics_type { SB_METRICS_COUNTER, SB_METRICS_GAUGE, SB_METRICS_HISTOGRAM };

/* A histogram of observations (seconds, lines...): a count per bucket of
 * fixed upper bounds, rendered as Prometheus's cumulative _bucket{le}
 * series with _sum and _count.  Plain memory, copied with its struct. */
#define SB_HIST_MAX_BOUNDS 16
struct sb_hist {
	const double *bounds;   /* ascending upper bounds (static, borrowed) */
	size_t nbounds;         /* at most SB_HIST_MAX_BOUNDS */
	uint64_t counts[SB_HIST_MAX_BOUNDS + 1];   /* per bucket; the last: above every bound */
	uint64_t count;
	double sum;
};

/* An empty histogram over bounds[0..n) (n is cut to SB_HIST_MAX_BOUNDS). */
void sb_hist_init(struct sb_hist *h, const double *bounds, size_t n);
/* Counts v in the first bucket whose bound is >= v. */
void sb_hist_observe(struct sb_hist *h, double v);

struct sb_metrics_label {
	const char *name, *value;
};

/* One series of a family.  A family is created by its first series (its
 * help and type come from there) and rendered once, HELP and TYPE first,
 * then its series in the order they were added; families keep the order
 * of their first series. */
struct sb_metrics_series {
	enum sb_metrics_type type;
	const char *name;                       /* [a-zA-Z_:][a-zA-Z0-9_:]* */
	const char *help;                       /* any text; escaped on output */
	const struct sb_metrics_label *labels;  /* n_labels pairs, NULL when none */
	size_t n_labels;
	/* The value: *src, read at every render (borrowed: must stay valid
	 * until the registry is destroyed), or `value` when src is NULL. */
	const uint64_t *src;
	uint64_t value;
	/* SB_METRICS_HISTOGRAM: the histogram, read at render (borrowed like
	 * src); a histogram family has one unlabelled series */
	const struct sb_hist *hist;
};

struct sb_metrics_reg;

/* An empty registry.  Caller frees with sb_metrics_destroy(). */
enum sb_err sb_metrics_create(struct sb_metrics_reg **out);
/* Accepts NULL. */
void sb_metrics_destroy(struct sb_metrics_reg *reg);

/* Adds one series; every string is copied (the caller keeps its own).
 * SB_ERR_INVAL for a bad metric or label name, a family name already
 * registered with the other type, or a label set the family already has;
 * SB_ERR_NOMEM when out of memory.  A failure is also remembered: later
 * calls do nothing and return it, and rendering returns NULL, so a view
 * can add its series unchecked and test once, at render. */
enum sb_err sb_metrics_add(struct sb_metrics_reg *reg, const struct sb_metrics_series *s);
/* Shorthands for an unlabelled series read from *src / of value v. */
enum sb_err sb_metrics_counter(struct sb_metrics_reg *reg, const char *name, const char *help,
			       const uint64_t *src);
enum sb_err sb_metrics_gauge(struct sb_metrics_reg *reg, const char *name, const char *help,
			     uint64_t v);

/* An unlabelled histogram family read from *h at render. */
enum sb_err sb_metrics_histogram(struct sb_metrics_reg *reg, const char *name, const char *help,
				 const struct sb_hist *h);

/* The registry as Prometheus text: a malloc'ed NUL-terminated string the
 * caller frees, or NULL when out of memory or an earlier add failed. */
char *sb_metrics_render_prometheus(const struct sb_metrics_reg *reg);

/* The values GET /healthz reports, already summed by the caller. */
struct sb_metrics_health {
	int mqtt_connected;
	const char *version;                    /* build data: escaped */
	int64_t uptime_s;
	uint64_t connections, channels, subscriptions, mqtt_subscriptions;
	uint64_t mqtt_subscriptions_active, cache_topics, queue_bytes;
	uint64_t mqtt_reconnects, messages_in, messages_out, frames_out, batches;
	uint64_t conflated, gaps, slow_client_closes, dropped, auth_failures;
};

/* The /healthz JSON object: a malloc'ed NUL-terminated string the caller
 * frees, or NULL when out of memory. */
char *sb_metrics_health_json(const struct sb_metrics_health *h);

#endif
