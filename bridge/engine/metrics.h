/* SPDX-License-Identifier: MIT
 *
 * metrics.h - renders the hub's counters and gauges as Prometheus text
 * (GET /metrics) and as the JSON body of GET /healthz.  Pure module.
 */
#ifndef SB_METRICS_H
#define SB_METRICS_H

#include "hub.h"

struct sb_pusher_stats;

/* Both return a malloc'ed NUL-terminated text (caller frees), or NULL.
 * `pusher` may be NULL (no Pusher side configured). */
char *sb_metrics_prometheus(const struct sb_metrics *m, const struct sb_hub_gauges *g,
			    const struct sb_pusher_stats *pusher);
char *sb_metrics_health_json(const struct sb_metrics *m, const struct sb_hub_gauges *g,
			     const char *version, int64_t uptime_s);

#endif
