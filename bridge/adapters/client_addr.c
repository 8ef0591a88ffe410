/* SPDX-License-Identifier: MIT
 *
 * client_addr.c - the peer's address and X-Forwarded-For from lws, handed
 * to sb_forwarded_client with listen.trusted_proxies.  The header is read
 * only when the peer is trusted: an untrusted client's header means
 * nothing and is not even copied.
 */
#include "client_addr.h"

#include <stdio.h>

#include <libwebsockets.h>

void sb_client_addr(const struct sb_config *cfg, struct lws *wsi, char *out)
{
	char peer[SB_ADDR_MAX + 16], xff[1024];
	int n = -1;

	if (!lws_get_peer_simple(wsi, peer, sizeof(peer))) {
		snprintf(out, SB_ADDR_MAX, "?");
		return;
	}
	if (cfg->n_trusted_proxies &&
	    sb_forwarded_trusted(cfg->trusted_proxies, cfg->n_trusted_proxies, peer))
		n = lws_hdr_copy(wsi, xff, sizeof(xff), WSI_TOKEN_X_FORWARDED_FOR);
	sb_forwarded_client(cfg->trusted_proxies, cfg->n_trusted_proxies, peer, n > 0 ? xff : NULL,
			    out);
}
