/*
 * notify.h - the service manager's readiness protocol (sd_notify(3)), written by hand: one
 * datagram of "KEY=VALUE" lines to the AF_UNIX socket named by $NOTIFY_SOCKET (a path, or
 * "@name" for an abstract socket). No libsystemd: the protocol is a stable, documented
 * interface and this is all airliftd needs of it.
 */
#ifndef AIRLIFTD_NOTIFY_H
#define AIRLIFTD_NOTIFY_H

/*
 * Send state (e.g. "READY=1", "STOPPING=1") to $NOTIFY_SOCKET. Returns 1 if sent, 0 when
 * NOTIFY_SOCKET is unset or empty (not started by a service manager), -1 on error (a
 * malformed or too long address, or the send failed; errno set).
 */
int ald_notify(const char *state);

#endif
