/*
 * bench/fcgi_floor.c - the least any FastCGI responder can do behind nginx:
 * a prefork pool (same accept model as reboss-api) that answers every
 * request with the health JSON, reading nothing, logging nothing, touching
 * no database.  bench/api.mjs runs it as the "floor" row: what nginx ->
 * FastCGI costs by itself, the ceiling for reboss-api on this machine.
 * Not installed, not part of the product.
 *
 *   spawn-fcgi -n -s SOCK -- fcgi_floor [WORKERS]
 */
#include <fcgiapp.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

int
main(int argc, char **argv)
{
	static const char reply[] = "Status: 200 OK\r\n"
	    "Content-Type: application/json\r\n\r\n"
	    "{\"status\":\"ok\",\"database\":\"ok\"}\n";
	FCGX_Request req;
	long n = argc > 1 ? strtol(argv[1], NULL, 10) : 4;
	long i;

	if (n < 1 || n > 64 || FCGX_Init() != 0)
		return 1;
	for (i = 1; i < n; i++)
		if (fork() == 0)
			break;
	if (FCGX_InitRequest(&req, 0, 0) != 0)
		return 1;
	while (FCGX_Accept_r(&req) >= 0) {
		if (FCGX_PutStr(reply, (int)sizeof(reply) - 1, req.out) < 0)
			break;
		FCGX_Finish_r(&req);
	}
	return 0;
}
