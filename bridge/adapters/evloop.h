/* SPDX-License-Identifier: MIT
 *
 * evloop.h - the event loop lws runs on.  By default libev on epoll,
 * through Debian's lws event-lib plugin (libwebsockets-evlib-ev): a
 * foreign loop the bridge owns, so that it runs one pass at a time like
 * lws_service() and the stop flag is seen after each.  With 10,000 idle
 * connections lws's own poll() loop hands the kernel every descriptor at
 * every wake; epoll only the ready ones.
 *
 * SB_EVENT_LOOP=poll in the environment keeps lws's default poll() loop
 * (a fallback; also taken when the plugin cannot be loaded).  Not libuv:
 * with Debian's lws 4.1.6 its plugin closes connections twice and clients
 * see 1006 instead of the bridge's close codes.
 *
 * Service thread only.
 */
#ifndef SB_EVLOOP_H
#define SB_EVLOOP_H

#include "sb_common.h"

struct lws_context;
struct lws_context_creation_info;
struct sb_evloop;

/* Chooses the loop (SB_EVENT_LOOP) and fills info's loop options; info
 * must then be used for lws_create_context() before anything else here.
 * Caller frees with sb_evloop_destroy(); SB_ERR_NOMEM. */
enum sb_err sb_evloop_create(struct sb_evloop **out, struct lws_context_creation_info *info);
/* lws_create_context() failed with the loop `info` asked for: when that
 * was the plugin's, switches info (and ev) to the poll loop and returns
 * 1 (try again), else 0. */
int sb_evloop_fallback(struct sb_evloop *ev, struct lws_context_creation_info *info);
/* One pass: waits for something to do and does it.  Returns < 0 when lws
 * has stopped. */
int sb_evloop_service(struct sb_evloop *ev, struct lws_context *ctx);
/* "epoll (libev)" or "poll". */
const char *sb_evloop_name(const struct sb_evloop *ev);
/* After lws_context_destroy().  Accepts NULL. */
void sb_evloop_destroy(struct sb_evloop *ev);

#endif
