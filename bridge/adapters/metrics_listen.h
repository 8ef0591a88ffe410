/* SPDX-License-Identifier: MIT
 *
 * metrics_listen.h - metrics.listen (docs/metrics.md): GET /metrics on an
 * address of its own, a second lws vhost on the server's context, so that
 * the public port need not serve it (http_api.c answers 404 there then).
 * Runs on the lws service thread like the rest of the server.
 */
#ifndef SB_METRICS_LISTEN_H
#define SB_METRICS_LISTEN_H

#include <stddef.h>

#include "sb_common.h"

struct sb_server;

/* With metrics.listen set: listens there (plain HTTP), answering from
 * srv->http.  Without: does nothing.  After sb_server_create(); on
 * failure `err` says why. */
enum sb_err sb_metrics_listen_start(struct sb_server *srv, char *err, size_t errlen);

#endif
