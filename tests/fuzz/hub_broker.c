/* SPDX-License-Identifier: MIT
 *
 * hub_broker.c - the fake MQTT broker of fuzz_hub.c (see hub_broker.h).
 */
#include "hub_broker.h"

#include "fuzz_common.h"
#include "topic.h"

static void q_push(char **q, size_t *n, const char *s)
{
	if (*n < HB_Q && (q[*n] = strdup(s)))
		(*n)++;
}

static char *q_shift(char **q, size_t *n)
{
	char *s = q[0];

	memmove(q, q + 1, (*n - 1) * sizeof(*q));
	(*n)--;
	return s;
}

static void q_clear(char **q, size_t *n)
{
	while (*n)
		free(q[--*n]);
}

int hb_trace;

static void deliver(struct hub_broker *b, const char *topic, const char *payload, size_t len,
		    int retained)
{
	struct sb_msg *m = sb_msg_create(topic, strlen(topic), payload, len, retained);

	if (hb_trace)
		fprintf(stderr, "  broker -> hub: %s%s (%zu bytes)\n", topic,
			retained ? " (retain)" : "", len);
	FZ_CHECK(m != NULL, "out of memory");
	sb_hub_on_message(b->hub, m);
	if (topic[0] != '$') {
		sb_msg_unref(b->last);
		b->last = m;
	} else {
		sb_msg_unref(m);
	}
}

static int granted(const struct hub_broker *b, const char *topic)
{
	for (size_t i = 0; i < b->ngranted; i++)
		if (sb_topic_matches(b->granted[i], topic))
			return 1;
	return 0;
}

/* SUBSCRIBE and UNSUBSCRIBE are handled in the order sent: "+filter" and
 * "-filter" in one queue. */
static void request(struct hub_broker *b, char op, const char *filter)
{
	char buf[600];

	snprintf(buf, sizeof(buf), "%c%s", op, filter);
	if (b->link_up)
		q_push(b->pend, &b->npend, buf);
}

void hb_subscribe(struct hub_broker *b, const char *filter) { request(b, '+', filter); }
void hb_unsubscribe(struct hub_broker *b, const char *filter) { request(b, '-', filter); }

static void ungrant(struct hub_broker *b, const char *filter)
{
	for (size_t i = 0; i < b->ngranted; i++)
		if (strcmp(b->granted[i], filter) == 0) {
			free(b->granted[i]);
			b->granted[i] = b->granted[--b->ngranted];
			return;
		}
}

void hb_hub_published(struct hub_broker *b, const char *topic, const void *payload, size_t len)
{
	char buf[256];

	if (strncmp(topic, "$statusbus/sync/", 16) == 0) {
		FZ_CHECK(len < 64, "barrier payload of %zu bytes", len);
		snprintf(buf, sizeof(buf), "%s\n%.*s", topic, (int)len, (const char *)payload);
		if (b->link_up)
			q_push(b->bar, &b->nbar, buf);
		return;
	}
	FZ_CHECK(strncmp(topic, "$statusbus/rejected/", 20) == 0, "published on %s", topic);
	FZ_CHECK(fz_json_strict(payload, len), "rejected report is not JSON: %.*s", (int)len,
		 (const char *)payload);
}

void hb_pump(struct hub_broker *b, int grant_only)
{
	for (int guard = 0; !b->hold && b->link_up && guard < 1000; guard++) {
		if (b->npend) {
			char *req = q_shift(b->pend, &b->npend), *f = req + 1;

			if (req[0] == '-') {
				ungrant(b, f);
			} else {
				ungrant(b, f);   /* a repeated SUBSCRIBE replaces */
				if (b->ngranted < HB_Q)
					b->granted[b->ngranted++] = strdup(f);
				if (hb_trace)
					fprintf(stderr, "  broker -> hub: SUBACK %s\n", f);
				sb_hub_mqtt_suback(b->hub, f);
				for (size_t i = 0; i < b->nret; i++)
					if (sb_topic_matches(f, b->ret[i].topic))
						deliver(b, b->ret[i].topic, b->ret[i].payload,
							b->ret[i].len, 1);
			}
			free(req);
		} else if (!grant_only && b->nbar) {
			char *bar = q_shift(b->bar, &b->nbar), *nl = strchr(bar, '\n');
			*nl = '\0';
			deliver(b, bar, nl + 1, strlen(nl + 1), 0);
			free(bar);
		} else {
			break;
		}
	}
}

void hb_link(struct hub_broker *b, int up, int lost)
{
	if (up == b->link_up)
		return;
	b->link_up = up;
	if (!up) {
		q_clear(b->pend, &b->npend);
		q_clear(b->bar, &b->nbar);
		q_clear(b->granted, &b->ngranted);
	}
	sb_hub_mqtt_state(b->hub, up);
	if (up && lost)
		sb_hub_mqtt_session_lost(b->hub);
}

void hb_publish(struct hub_broker *b, const char *topic, const char *payload, size_t len,
		int status, int flag)
{
	size_t i;

	if (status) {
		for (i = 0; i < b->nret && strcmp(b->ret[i].topic, topic) != 0; i++)
			;
		if (i < b->nret) {
			free(b->ret[i].payload);
			b->ret[i] = b->ret[--b->nret];
		}
		if (len && b->nret < HB_RETAINED) {
			i = b->nret++;
			snprintf(b->ret[i].topic, sizeof(b->ret[i].topic), "%s", topic);
			if (!(b->ret[i].payload = malloc(len)))
				abort();
			memcpy(b->ret[i].payload, payload, len);
			b->ret[i].len = len;
		}
	}
	if (b->link_up && granted(b, topic))
		deliver(b, topic, payload, len, flag);
}

void hb_redeliver(struct hub_broker *b)
{
	/* a new message with the same content, as Paho would hand it over */
	if (b->last && b->link_up && granted(b, b->last->topic))
		deliver(b, b->last->topic, b->last->payload, b->last->payload_len,
			b->last->retained);
}

void hb_free(struct hub_broker *b)
{
	sb_msg_unref(b->last);
	q_clear(b->pend, &b->npend);
	q_clear(b->bar, &b->nbar);
	q_clear(b->granted, &b->ngranted);
	for (size_t i = 0; i < b->nret; i++)
		free(b->ret[i].payload);
	memset(b, 0, sizeof(*b));
}
