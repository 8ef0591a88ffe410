/* SPDX-License-Identifier: MIT
 *
 * evloop.c - lws on libev/epoll or on its own poll() loop (see evloop.h).
 */
#include "evloop.h"

#include <stdlib.h>
#include <string.h>

#include <ev.h>
#include <libwebsockets.h>

struct sb_evloop {
	struct ev_loop *loop;   /* NULL: lws's poll() loop */
	void *foreign[1];       /* info.foreign_loops while the context is created */
};

static void use_poll(struct sb_evloop *ev, struct lws_context_creation_info *info)
{
	if (ev->loop)
		ev_loop_destroy(ev->loop);
	ev->loop = NULL;
	info->options &= ~(uint64_t)LWS_SERVER_OPTION_LIBEV;
	info->foreign_loops = NULL;
}

enum sb_err sb_evloop_create(struct sb_evloop **out, struct lws_context_creation_info *info)
{
	const char *want = getenv("SB_EVENT_LOOP");
	struct sb_evloop *ev = calloc(1, sizeof(*ev));

	*out = NULL;
	if (!ev)
		return SB_ERR_NOMEM;
	if (want && strcmp(want, "poll") == 0) {
		use_poll(ev, info);
	} else {
		ev->loop = ev_loop_new(EVBACKEND_EPOLL | EVFLAG_NOENV);
		if (!ev->loop) {
			sb_log(SB_LOG_WARN, "event loop: no epoll loop from libev, using poll()");
			use_poll(ev, info);
		} else {
			ev->foreign[0] = ev->loop;
			info->options |= LWS_SERVER_OPTION_LIBEV;
			info->foreign_loops = ev->foreign;
		}
	}
	*out = ev;
	return SB_OK;
}

int sb_evloop_fallback(struct sb_evloop *ev, struct lws_context_creation_info *info)
{
	if (!ev->loop)
		return 0;
	sb_log(SB_LOG_WARN, "event loop: lws could not run on libev (is libwebsockets-evlib-ev "
	       "installed?), using poll()");
	use_poll(ev, info);
	return 1;
}

int sb_evloop_service(struct sb_evloop *ev, struct lws_context *ctx)
{
	if (!ev->loop)
		return lws_service(ctx, 0);
	/* lws's watchers (its sockets, its timer, the cancel pipe) are on
	 * this loop: one pass waits for at least one of them */
	ev_run(ev->loop, EVRUN_ONCE);
	return 0;
}

const char *sb_evloop_name(const struct sb_evloop *ev)
{
	return ev->loop ? "epoll (libev)" : "poll";
}

void sb_evloop_destroy(struct sb_evloop *ev)
{
	if (!ev)
		return;
	if (ev->loop) {
		/* what lws's destruction left to run (its watchers' stops) */
		ev_run(ev->loop, EVRUN_NOWAIT);
		ev_loop_destroy(ev->loop);
	}
	free(ev);
}
