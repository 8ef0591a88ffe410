/* SPDX-License-Identifier: MIT
 *
 * metrics_view.h - what GET /metrics and GET /healthz show: the hub's
 * counters and gauges, the Pusher side's counters and the MQTT hand-off's
 * (inbox.h) back pressure and depth, put into a
 * domain/metrics.h registry under their exported names.  The one place
 * that knows both the engine's counter structs and the names users see.
 */
#ifndef SB_METRICS_VIEW_H
#define SB_METRICS_VIEW_H

#include "hub.h"
#include "metrics.h"

struct sb_inbox_stats;
struct sb_pusher_stats;

/* Adds every series of /metrics to reg.  Counters are read through
 * pointers into m, pusher and inbox, which are borrowed and must outlive
 * reg (inbox is a copy the caller took with sb_inbox_stats: the inbox
 * itself is shared with Paho's thread); gauges and sums are the values of
 * now.  pusher may be NULL (no Pusher side configured), and inbox too (no
 * MQTT hand-off, as in tests): their families are left out.  Failures are
 * remembered by reg (sb_metrics_add) and show at render. */
void sb_metrics_view_register(struct sb_metrics_reg *reg, const struct sb_metrics *m,
			      const struct sb_hub_gauges *g, const struct sb_pusher_stats *pusher,
			      const struct sb_inbox_stats *inbox);

/* The GET /metrics body: a malloc'ed NUL-terminated text the caller frees,
 * or NULL when out of memory. */
char *sb_metrics_view_prometheus(const struct sb_metrics *m, const struct sb_hub_gauges *g,
				 const struct sb_pusher_stats *pusher,
				 const struct sb_inbox_stats *inbox);
/* The GET /healthz body (JSON), same ownership. */
char *sb_metrics_view_health_json(const struct sb_metrics *m, const struct sb_hub_gauges *g,
				  const char *version, int64_t uptime_s);

#endif
