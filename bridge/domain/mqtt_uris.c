/* SPDX-License-Identifier: MIT
 *
 * mqtt_uris.c - round robin over mqtt.uri (see mqtt_uris.h).
 */
#include "mqtt_uris.h"

void sb_mqtt_uris_init(struct sb_mqtt_uris *u, char *const *uris, size_t n)
{
	*u = (struct sb_mqtt_uris){ uris, n, 0, 0, 0 };
}

const char *sb_mqtt_uris_next(struct sb_mqtt_uris *u)
{
	u->cur = u->next;
	u->next = u->n ? (u->next + 1) % u->n : 0;
	u->attempts++;
	return sb_mqtt_uris_current(u);
}

const char *sb_mqtt_uris_current(const struct sb_mqtt_uris *u)
{
	return u->n ? u->uris[u->cur] : "";
}

size_t sb_mqtt_uris_index(const struct sb_mqtt_uris *u)
{
	return u->cur + 1;
}
