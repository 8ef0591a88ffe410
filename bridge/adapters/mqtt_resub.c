/* SPDX-License-Identifier: MIT
 *
 * mqtt_resub.c - refused subscriptions tried again (see mqtt_resub.h).
 */
#include "mqtt_resub.h"

#include <stdlib.h>
#include <string.h>

#define FIRST_MS 1000
#define MAX_MS 30000

struct entry {
	char *filter;
	int64_t due_ms;     /* 0 = not due (granted or in flight) */
	int64_t delay_ms;   /* the last delay */
};

struct sb_mqtt_resub {
	struct entry *e;
	size_t n, cap;
};

static struct entry *find(struct sb_mqtt_resub *r, const char *filter)
{
	for (size_t i = 0; r && i < r->n; i++)
		if (strcmp(r->e[i].filter, filter) == 0)
			return &r->e[i];
	return NULL;
}

int64_t sb_mqtt_resub_refused(struct sb_mqtt_resub **rp, const char *filter, int64_t now_ms)
{
	struct sb_mqtt_resub *r = *rp;
	struct entry *e;

	if (!r && !(r = *rp = calloc(1, sizeof(*r))))
		return 0;
	if (!(e = find(r, filter))) {
		if (r->n == r->cap) {
			size_t cap = r->cap ? 2 * r->cap : 16;
			struct entry *ne = realloc(r->e, cap * sizeof(*ne));

			if (!ne)
				return 0;
			r->e = ne;
			r->cap = cap;
		}
		e = &r->e[r->n];
		if (!(e->filter = strdup(filter)))
			return 0;
		e->delay_ms = 0;
		r->n++;
	}
	e->delay_ms = e->delay_ms ? e->delay_ms * 2 : FIRST_MS;
	if (e->delay_ms > MAX_MS)
		e->delay_ms = MAX_MS;
	e->due_ms = now_ms + e->delay_ms;
	return e->delay_ms;
}

static void drop(struct sb_mqtt_resub *r, struct entry *e)
{
	free(e->filter);
	*e = r->e[--r->n];
}

void sb_mqtt_resub_granted(struct sb_mqtt_resub *r, const char *filter)
{
	struct entry *e = find(r, filter);

	if (e)
		drop(r, e);
}

void sb_mqtt_resub_run(struct sb_mqtt_resub *r, int64_t now_ms,
		       void (*fn)(void *arg, const char *filter), void *arg)
{
	/* backwards: fn may forget the filter, which moves the last entry
	 * (one already seen) into its place */
	for (size_t i = r ? r->n : 0; i-- > 0;) {
		struct entry *e = &r->e[i];

		if (e->due_ms && now_ms >= e->due_ms) {
			e->due_ms = 0;   /* in flight: its SUBACK says what next */
			fn(arg, e->filter);
		}
	}
}

void sb_mqtt_resub_clear(struct sb_mqtt_resub *r)
{
	while (r && r->n)
		drop(r, &r->e[r->n - 1]);
}

void sb_mqtt_resub_free(struct sb_mqtt_resub *r)
{
	sb_mqtt_resub_clear(r);
	if (r)
		free(r->e);
	free(r);
}
