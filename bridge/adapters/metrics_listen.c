/* SPDX-License-Identifier: MIT
 *
 * metrics_listen.c - the metrics.listen vhost: its own protocol, whose
 * requests http_api.c answers (GET /metrics, else 404).  None of the
 * public port's door (conn_guard.c) applies here: the address is the
 * operator's, typically loopback, and serves one small page.
 */
#include "metrics_listen.h"

#include <stdio.h>
#include <string.h>

#include <libwebsockets.h>

#include "http_api.h"
#include "ws_server.h"

struct pss {
	struct sb_http_pss http;
};

static int callback(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in,
		    size_t len)
{
	struct sb_server *srv = lws_context_user(lws_get_context(wsi));
	struct pss *pss = user;

	switch (reason) {
	case LWS_CALLBACK_HTTP:
		return sb_http_handle_metrics_only(&srv->http, wsi, &pss->http, in);
	case LWS_CALLBACK_HTTP_BODY:
	case LWS_CALLBACK_HTTP_BODY_COMPLETION:
		return 0;   /* answered already; the connection closes after it */
	case LWS_CALLBACK_HTTP_WRITEABLE:
		return sb_http_writeable(&srv->http, wsi, &pss->http);
	case LWS_CALLBACK_HTTP_DROP_PROTOCOL:
	case LWS_CALLBACK_CLOSED_HTTP:
		if (pss)
			sb_http_pss_free(&pss->http);
		return 0;
	default:
		break;
	}
	return lws_callback_http_dummy(wsi, reason, user, in, len);
}

static const struct lws_protocols protocols[] = {
	{ "http", callback, sizeof(struct pss), 1024, 0, NULL, 0 },
	{ NULL, NULL, 0, 0, 0, NULL, 0 }
};

enum sb_err sb_metrics_listen_start(struct sb_server *srv, char *err, size_t errlen)
{
	/* lws keeps the pointer; a reload may free the config */
	static char iface[64];
	const struct sb_config *cfg = srv->cfg;
	struct lws_context_creation_info info;

	if (!cfg->metrics_port)
		return SB_OK;
	snprintf(iface, sizeof(iface), "%s", cfg->metrics_host);
	memset(&info, 0, sizeof(info));
	info.vhost_name = "metrics";
	info.port = cfg->metrics_port;
	info.iface = iface;
	info.protocols = protocols;
	if (strchr(iface, ':') == NULL)
		info.options |= LWS_SERVER_OPTION_DISABLE_IPV6;
	if (!lws_create_vhost(srv->ctx, &info)) {
		snprintf(err, errlen, "metrics.listen: cannot listen on %s (in use?)",
			 cfg->metrics_listen);
		return SB_ERR_IO;
	}
	sb_log(SB_LOG_INFO, "metrics: listening on http://%s%s%s:%d/metrics (not on the public port)",
	       strchr(iface, ':') ? "[" : "", iface, strchr(iface, ':') ? "]" : "", cfg->metrics_port);
	return SB_OK;
}
