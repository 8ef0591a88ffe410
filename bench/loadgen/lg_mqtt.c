// SPDX-License-Identifier: MIT
/*
 * lg_mqtt.c - MQTT 3.1.1 packet writers and the packet framer of
 * sb-loadgen.  A clean session, no will, no credentials: every broker under
 * test allows anonymous loopback clients.
 */
#include "lg_mqtt.h"

#include <string.h>

/* the remaining-length varint; returns its size */
static size_t put_len(uint8_t *out, size_t v)
{
	size_t n = 0;
	do {
		uint8_t b = v & 0x7f;
		v >>= 7;
		out[n++] = (uint8_t)(b | (v ? 0x80 : 0));
	} while (v);
	return n;
}

static size_t put_str(uint8_t *out, const char *s, size_t l)
{
	out[0] = (uint8_t)(l >> 8);
	out[1] = (uint8_t)l;
	memcpy(out + 2, s, l);
	return l + 2;
}

/* writes the fixed header and the body (already composed in body) */
static size_t finish(uint8_t *out, size_t cap, uint8_t first, const uint8_t *body, size_t blen)
{
	uint8_t hdr[5];
	hdr[0] = first;
	size_t h = 1 + put_len(hdr + 1, blen);
	if (h + blen > cap)
		return 0;
	memcpy(out, hdr, h);
	memmove(out + h, body, blen);
	return h + blen;
}

size_t lg_mqtt_connect(uint8_t *out, size_t cap, const char *client_id, int keepalive_s)
{
	uint8_t body[300];
	size_t idl = strlen(client_id), b = 0;
	if (idl > 200)
		return 0;
	b += put_str(body, "MQTT", 4);
	body[b++] = 4;    /* protocol level 3.1.1 */
	body[b++] = 0x02; /* clean session */
	body[b++] = (uint8_t)(keepalive_s >> 8);
	body[b++] = (uint8_t)keepalive_s;
	b += put_str(body + b, client_id, idl);
	return finish(out, cap, 0x10, body, b);
}

size_t lg_mqtt_subscribe(uint8_t *out, size_t cap, uint16_t id, const char *filter, int qos)
{
	uint8_t body[600];
	size_t fl = strlen(filter), b = 0;
	if (fl > 500)
		return 0;
	body[b++] = (uint8_t)(id >> 8);
	body[b++] = (uint8_t)id;
	b += put_str(body + b, filter, fl);
	body[b++] = (uint8_t)qos;
	return finish(out, cap, 0x82, body, b);
}

size_t lg_mqtt_publish(uint8_t *out, size_t cap, const char *topic, const void *payload,
		       size_t plen, int qos, uint16_t id)
{
	size_t tl = strlen(topic);
	size_t blen = 2 + tl + (qos ? 2 : 0) + plen;
	uint8_t hdr[5];
	hdr[0] = (uint8_t)(0x30 | (qos << 1));
	size_t h = 1 + put_len(hdr + 1, blen);
	if (h + blen > cap)
		return 0;
	memcpy(out, hdr, h);
	size_t o = h + put_str(out + h, topic, tl);
	if (qos) {
		out[o++] = (uint8_t)(id >> 8);
		out[o++] = (uint8_t)id;
	}
	memcpy(out + o, payload, plen);
	return o + plen;
}

size_t lg_mqtt_pingreq(uint8_t *out)
{
	out[0] = 0xc0;
	out[1] = 0;
	return 2;
}

long lg_mqtt_packet(const uint8_t *buf, size_t avail, size_t *hlen)
{
	size_t v = 0, i = 1;
	for (int shift = 0;; shift += 7, i++) {
		if (i >= avail)
			return 0;
		if (i > 4)
			return -1;
		v |= (size_t)(buf[i] & 0x7f) << shift;
		if (!(buf[i] & 0x80))
			break;
	}
	*hlen = i + 1;
	return *hlen + v > avail ? 0 : (long)(*hlen + v);
}
