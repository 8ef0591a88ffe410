/* SPDX-License-Identifier: MIT */
/*
 * lg_mqtt.h - the few MQTT 3.1.1 packets sb-loadgen writes and the framing
 * of the ones it reads: CONNECT, SUBSCRIBE, PUBLISH, PINGREQ out; packet
 * boundaries (the remaining-length varint) in.  The same code serves the
 * MQTT-over-WebSocket subscriber and the TCP publisher.
 */
#ifndef LG_MQTT_H
#define LG_MQTT_H

#include <stddef.h>
#include <stdint.h>

enum { LG_MQTT_CONNACK = 2, LG_MQTT_PUBLISH = 3, LG_MQTT_PUBACK = 4, LG_MQTT_SUBACK = 9,
       LG_MQTT_PINGRESP = 13 };

/* Each writer returns the packet's length, or 0 when it does not fit cap. */
size_t lg_mqtt_connect(uint8_t *out, size_t cap, const char *client_id, int keepalive_s);
size_t lg_mqtt_subscribe(uint8_t *out, size_t cap, uint16_t id, const char *filter, int qos);
/* PUBLISH of payload on topic; id is used only when qos > 0. */
size_t lg_mqtt_publish(uint8_t *out, size_t cap, const char *topic, const void *payload,
		       size_t plen, int qos, uint16_t id);
/* PINGREQ: always 2 bytes. */
size_t lg_mqtt_pingreq(uint8_t *out);

/* Frames one packet at buf: returns its total length and sets *hlen to the
 * fixed header's length when the packet is complete, 0 while it is
 * incomplete, -1 when the length field is malformed. */
long lg_mqtt_packet(const uint8_t *buf, size_t avail, size_t *hlen);

#endif
