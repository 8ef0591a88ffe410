/* SPDX-License-Identifier: MIT
 *
 * sd_notify.h - systemd's readiness protocol without libsystemd: a
 * datagram to $NOTIFY_SOCKET (Type=notify in statusbus-bridge.service).
 */
#ifndef SB_SD_NOTIFY_H
#define SB_SD_NOTIFY_H

/* Sends `state` ("READY=1", "STOPPING=1", "STATUS=...", lines joined by
 * '\n') to the socket systemd named in $NOTIFY_SOCKET.  Returns 1 when
 * sent, 0 when not run by systemd (no NOTIFY_SOCKET), -1 on failure.
 * Async-signal-safe apart from getenv. */
int sb_sd_notify(const char *state);

#endif
