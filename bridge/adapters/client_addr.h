/* SPDX-License-Identifier: MIT
 *
 * client_addr.h - who a connection is from, for the log and the
 * per-address limits (conn_guard.c): the TCP peer, or
 * behind listen.trusted_proxies the address X-Forwarded-For names
 * (domain/forwarded.c decides; this reads them from lws).
 */
#ifndef SB_CLIENT_ADDR_H
#define SB_CLIENT_ADDR_H

#include "config.h"
#include "forwarded.h"

struct lws;

/* The client's address of wsi (an HTTP request or a WebSocket upgrade,
 * while its headers are there) into out[SB_ADDR_MAX]; "?" when lws knows
 * no peer. */
void sb_client_addr(const struct sb_config *cfg, struct lws *wsi, char *out);

#endif
