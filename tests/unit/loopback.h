/*
 * loopback.h - a scripted HTTP/1.1 server on 127.0.0.1, forked by a unit
 * test (test_http, test_shopify). Header-only: static functions.
 * The caller supplies the child: it accepts on ls and answers n requests
 * following its script, then waits to be killed by lb_stop().
 */
#ifndef RB_TEST_LOOPBACK_H
#define RB_TEST_LOOPBACK_H

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

struct lb_srv {
	pid_t	pid;
	int	port;
};

/* Runs in the child; must not return (ends with _exit). */
typedef void lb_child_fn(int ls, const void *script, int n);

static void
lb_write_all(int fd, const char *p, size_t n)
{
	ssize_t w;

	while (n > 0) {
		w = write(fd, p, n);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return;
		p += w;
		n -= (size_t)w;
	}
}

/* Reads one request (headers and Content-Length body) into buf. */
static size_t
lb_read_request(int fd, char *buf, size_t cap)
{
	size_t len = 0, want = 0;
	ssize_t r;
	char *end, *cl;

	while (len < cap - 1) {
		r = read(fd, buf + len, cap - 1 - len);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			break;
		len += (size_t)r;
		buf[len] = '\0';
		if ((end = strstr(buf, "\r\n\r\n")) == NULL)
			continue;
		if (want == 0) {
			want = (size_t)(end + 4 - buf);
			if ((cl = strcasestr(buf, "\r\ncontent-length:")) != NULL &&
			    cl < end)
				want += strtoul(cl + 17, NULL, 10);
		}
		if (len >= want)
			break;
	}
	buf[len] = '\0';
	return len;
}

/* Listens on an ephemeral loopback port (s->port) and forks child. */
static int
lb_start(struct lb_srv *s, lb_child_fn *child, const void *script, int n)
{
	struct sockaddr_in sa;
	socklen_t sl = sizeof(sa);
	int ls, one = 1;

	memset(s, 0, sizeof(*s));
	if ((ls = socket(AF_INET, SOCK_STREAM, 0)) < 0)
		return -1;
	(void)setsockopt(ls, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	memset(&sa, 0, sizeof(sa));
	sa.sin_family = AF_INET;
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (bind(ls, (struct sockaddr *)&sa, sizeof(sa)) < 0 ||
	    listen(ls, 16) < 0 ||
	    getsockname(ls, (struct sockaddr *)&sa, &sl) < 0) {
		close(ls);
		return -1;
	}
	s->port = ntohs(sa.sin_port);
	fflush(stdout);
	if ((s->pid = fork()) < 0) {
		close(ls);
		return -1;
	}
	if (s->pid == 0)
		child(ls, script, n);
	close(ls);
	return 0;
}

static void
lb_stop(struct lb_srv *s)
{
	if (s->pid > 0) {
		kill(s->pid, SIGKILL);
		(void)waitpid(s->pid, NULL, 0);
		s->pid = 0;
	}
}

#endif /* RB_TEST_LOOPBACK_H */
