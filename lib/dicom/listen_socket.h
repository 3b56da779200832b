/* The listener's own TCP socket, so that a connection is accepted at once and its first PDU
 * awaited beside the others: a peer that connects and says nothing (a port scan, a
 * half-open connection, a health check that never closes) then holds nobody up. Plain
 * POSIX; the DCMTK side is in scp.cc. */
#ifndef OS_DICOM_LISTEN_SOCKET_H
#define OS_DICOM_LISTEN_SOCKET_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

/* A listening IPv4 socket on every address at `port` (close-on-exec, address reuse, as
 * DCMTK's own). Returns the descriptor, or -errno with a sentence in why. */
int os_listen_tcp(int port, char *why, size_t cap);

/* 1 when a whole PDU (its 6-byte header and the length it gives) is waiting in fd's receive
 * buffer, or more than `enough` bytes are; 0 when not yet; -1 when the peer closed or the
 * socket failed. Nothing is read. */
int os_pdu_waiting(int fd, size_t enough);

#ifdef __cplusplus
}
#endif

#endif
