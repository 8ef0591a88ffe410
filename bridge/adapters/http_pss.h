/* SPDX-License-Identifier: MIT
 *
 * http_pss.h - per-request state of an HTTP response being written
 * (http_api.c), embedded in the WebSocket adapter's per-session data.
 */
#ifndef SB_HTTP_PSS_H
#define SB_HTTP_PSS_H

#include <stddef.h>

struct sb_http_parked;

struct sb_http_pss {
	unsigned char *mem;   /* LWS_PRE headroom + body */
	size_t len;
	struct sb_http_parked *parked;   /* a query waiting for its channel */
};

#endif
