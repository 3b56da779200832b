/* The listener's TCP socket and the waits on a new connection (listen_socket.h). */
#include "listen_socket.h"

#include <errno.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#define BACKLOG 64

int os_listen_tcp(int port, char *why, size_t cap) {
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        int e = errno;
        snprintf(why, cap, "%s", strerror(e));
        return -e;
    }
    int one = 1;
    struct sockaddr_in a;
    memset(&a, 0, sizeof a);
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_ANY);
    a.sin_port = htons((uint16_t)port);
    if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) != 0 ||
        bind(fd, (struct sockaddr *)&a, sizeof a) != 0 || listen(fd, BACKLOG) != 0) {
        int e = errno;
        snprintf(why, cap, "%s", strerror(e));
        close(fd);
        return -e;
    }
    return fd;
}

int os_pdu_waiting(int fd, size_t enough) {
    unsigned char h[6];
    ssize_t n = recv(fd, h, sizeof h, MSG_PEEK | MSG_DONTWAIT);
    if (n == 0) return -1;
    if (n < 0) return errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR ? 0 : -1;
    if ((size_t)n < sizeof h) return 0;
    size_t want = sizeof h + ((size_t)h[2] << 24 | (size_t)h[3] << 16 | (size_t)h[4] << 8 | (size_t)h[5]);
    int avail = 0;
    if (ioctl(fd, FIONREAD, &avail) != 0) return -1;
    return (size_t)avail >= want || (size_t)avail > enough;
}
