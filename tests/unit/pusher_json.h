/* SPDX-License-Identifier: MIT
 *
 * pusher_json.h - reading Pusher frames in the unit tests: a frame is
 * {"event":E[,"channel":NAME],"data":D} where D is a string holding JSON,
 * or (pusher:error) an object.  Shared by the codec tests and the session
 * fixture; header-only (each test is its own executable).
 */
#ifndef SB_TEST_PUSHER_JSON_H
#define SB_TEST_PUSHER_JSON_H

#include <cjson/cJSON.h>

/* k's string value in j, or NULL. */
static inline const char *str(const cJSON *j, const char *k)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(j, k);

	return cJSON_IsString(v) ? v->valuestring : NULL;
}

/* The frame's data: a JSON string decoded (Pusher), or the object itself
 * (pusher:error); caller deletes. */
static inline cJSON *data_of(const cJSON *frame)
{
	const cJSON *d = cJSON_GetObjectItemCaseSensitive(frame, "data");

	if (cJSON_IsString(d))
		return cJSON_Parse(d->valuestring);
	return d ? cJSON_Duplicate(d, 1) : NULL;
}

/* The integer k of the frame's data, -1 when absent. */
static inline int data_int(const cJSON *frame, const char *k)
{
	cJSON *d = data_of(frame);
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(d, k);
	int n = cJSON_IsNumber(v) ? v->valueint : -1;

	cJSON_Delete(d);
	return n;
}

#endif
