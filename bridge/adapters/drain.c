/* SPDX-License-Identifier: MIT
 *
 * drain.c - the SIGTERM drain (see drain.h).
 */
#include "drain.h"

#include <libwebsockets.h>

#include "evloop.h"
#include "proto_v1.h"

size_t sb_drain_due(size_t total, int64_t elapsed_ms, int64_t span_ms)
{
	size_t n;

	if (span_ms <= 0 || elapsed_ms >= span_ms || total == 0)
		return total;
	if (elapsed_ms < 0)
		elapsed_ms = 0;
	n = (size_t)(((double)total * (double)elapsed_ms) / (double)span_ms) + 1;
	return n > total ? total : n;
}

int sb_drain_refuse_upgrade(struct lws *wsi)
{
	sb_log(SB_LOG_INFO, "ws: upgrade refused: draining (503)");
	lws_return_http_status(wsi, HTTP_STATUS_SERVICE_UNAVAILABLE,
			       "bridge draining: connect to another bridge");
	return 1;
}

int sb_server_drain(struct sb_server *srv)
{
	struct sb_hub_gauges g;
	int64_t span = (int64_t)srv->cfg->drain_s * 1000, start = sb_now_ms(), elapsed;
	size_t total, closed = 0, want;

	srv->stopping = 1;   /* /readyz 503, upgrades refused */
	sb_hub_gauges(srv->hub, &g);
	total = g.clients;
	sb_log(SB_LOG_INFO, "draining: /readyz 503, new WebSockets refused, %zu client(s) closed "
	       "with 1001 over %d s", total, srv->cfg->drain_s);
	for (;;) {
		elapsed = sb_now_ms() - start;
		/* at the window's end also whoever came in meanwhile */
		want = elapsed >= span ? SIZE_MAX : sb_drain_due(total, elapsed, span);
		if (want > closed) {
			size_t n;

			sb_hub_flush_all(srv->hub);
			n = sb_hub_close_some(srv->hub, want - closed, SB_CLOSE_GOING_AWAY,
					      SB_DRAIN_REASON);
			closed = want == SIZE_MAX ? closed + n : want;
		}
		sb_hub_gauges(srv->hub, &g);
		if (!g.clients || elapsed > span + 3000)
			break;
		/* returns at least every 200 ms (the housekeeping timer) */
		if (sb_server_service(srv) < 0)
			break;
	}
	sb_log(SB_LOG_INFO, "drained: %zu client(s) closed in %lld ms, %zu left", closed,
	       (long long)(sb_now_ms() - start), (size_t)g.clients);
	return 0;
}
