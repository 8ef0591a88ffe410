/* SPDX-License-Identifier: MIT
 *
 * pusher_api.h - the Pusher HTTP API on the bridge's port (docs/pusher.md),
 * so that Laravel's pusher broadcaster and every Pusher server SDK publish
 * unchanged: POST /apps/<app_id>/events and /batch_events publish each
 * event through the broker on pusher/<channel>/<event> (domain/relay.h),
 * and GET /apps/<app_id>/channels[/<name>[/users]] report this bridge's
 * subscribers.  What a request means and whether it is signed is
 * domain/pusher_http.h; this module reads it from libwebsockets, asks the
 * hub, publishes through the MQTT link and counts every answer.
 */
#ifndef SB_PUSHER_API_H
#define SB_PUSHER_API_H

#include <stddef.h>

#include "http_api.h"

struct lws;

/* One answer: status, content type (static) and body (malloc'ed). */
struct sb_pusher_api_answer {
	unsigned int status;
	const char *ctype;
	char *body;
	size_t len;
};

/* Answers a request under /apps/ (sb_pusher_http_is_api): `method` is
 * "GET", "POST" or another, body[0..blen) what was read of it.  Every
 * answer is complete and counted (statusbus_pusher_api_requests_total);
 * a refused request publishes nothing.  out->body is NULL only when
 * memory ran out. */
void sb_pusher_api_answer(const struct sb_http_api *api, struct lws *wsi, const char *method,
			  const char *path, const char *body, size_t blen,
			  struct sb_pusher_api_answer *out);

#endif
