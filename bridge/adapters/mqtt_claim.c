/* SPDX-License-Identifier: MIT
 *
 * mqtt_claim.c - the claim on the MQTT client id and the takeover verdict
 * (see mqtt_claim.h).
 */
#include "mqtt_claim.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <unistd.h>

/* At most 160 bytes of an untrusted payload, fit for a log line. */
static void printable(char *dst, size_t dstlen, const void *src, size_t len)
{
	const unsigned char *s = src;
	size_t n = 0;

	for (size_t i = 0; i < len && n + 1 < dstlen && n < 160; i++)
		dst[n++] = s[i] >= 0x20 && s[i] < 0x7f ? (char)s[i] : '?';
	dst[n] = '\0';
}

enum sb_err sb_mqtt_claim_init(struct sb_mqtt_claim *c, const char *client_id)
{
	unsigned char r[16];
	char nonce[33], host[64] = "";

	memset(c, 0, sizeof(*c));
	c->client_id = client_id;
	c->topic_len = strlen("$statusbus/sync//owner") + strlen(client_id);
	if (!(c->topic = malloc(c->topic_len + 1)))
		return SB_ERR_NOMEM;
	snprintf(c->topic, c->topic_len + 1, "$statusbus/sync/%s/owner", client_id);
	/* the nonce tells this process's claim from any other's */
	if (getrandom(r, sizeof(r), GRND_NONBLOCK) != (ssize_t)sizeof(r)) {
		/* no entropy yet: unique enough among processes on one broker */
		uint64_t a = (uint64_t)sb_now_ms() ^ ((uint64_t)getpid() << 32), b = (uintptr_t)c;
		memcpy(r, &a, 8);
		memcpy(r + 8, &b, 8);
	}
	for (size_t i = 0; i < sizeof(r); i++)
		snprintf(nonce + 2 * i, 3, "%02x", r[i]);
	gethostname(host, sizeof(host) - 1);
	for (char *p = host; *p; p++)
		if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
		      *p == '-' || *p == '.' || *p == '_'))
			*p = '-';
	c->len = (size_t)snprintf(c->text, sizeof(c->text), "{\"nonce\":\"%s\",\"host\":\"%s\",\"pid\":%ld}",
				  nonce, host, (long)getpid());
	return SB_OK;
}

void sb_mqtt_claim_fini(struct sb_mqtt_claim *c)
{
	free(c->topic);
	c->topic = NULL;
}

int sb_mqtt_claim_is_topic(const struct sb_mqtt_claim *c, const char *topic, size_t len)
{
	return len == c->topic_len && !memcmp(topic, c->topic, len);
}

void sb_mqtt_claim_connected(struct sb_mqtt_claim *c)
{
	c->counted = 0;
}

void sb_mqtt_claim_seen(struct sb_mqtt_claim *c, const void *payload, size_t len)
{
	char other[192];

	if (!len)
		return;
	if (len == c->len && !memcmp(payload, c->text, len)) {
		c->confirmed = 1;
		return;
	}
	printable(other, sizeof(other), payload, len);
	if (!c->confirmed) {
		sb_log(SB_LOG_INFO, "mqtt: client id %s was last claimed by %s (an earlier run; if that "
		       "process still runs, the two will take the id from each other)", c->client_id,
		       other);
		return;
	}
	if (c->counted)
		return;   /* the retained replay and a live copy of one claim */
	c->counted = 1;
	__atomic_fetch_add(&c->takeovers, 1, __ATOMIC_RELAXED);
	sb_log(SB_LOG_WARN, "mqtt: client id %s is in use by another process (takeover): %s "
	       "connected with it since this bridge did; each connection of one closes the "
	       "other's, and what the broker queued for the id goes to whichever holds it.  Give "
	       "each bridge its own mqtt.client_id (e.g. with {hostname} or {pid})", c->client_id,
	       other);
}

uint64_t sb_mqtt_claim_takeovers(const struct sb_mqtt_claim *c)
{
	return __atomic_load_n(&c->takeovers, __ATOMIC_RELAXED);
}
