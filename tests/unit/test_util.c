/* test_util.c - lib/util.c, lib/encode.c and lib/rb.c: bounded strings,
 * capped buffers, strict numbers, hex, base64, UUIDs, files, sleeping. */
#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <unistd.h>

#include "encode.h"
#include "rb.h"
#include "tap.h"
#include "util.h"

static char tmpdir[] = "/tmp/rb-test-util-XXXXXX";

/* s with control characters as \xNN, for test names (TAP is by line). */
static const char *
esc(const char *s)
{
	static char ring[4][200];
	static int k;
	char *o = ring[k++ % 4];
	size_t n = 0;

	for (; *s != '\0' && n + 5 < sizeof(ring[0]); s++) {
		if ((unsigned char)*s < 0x20 || *s == 0x7f)
			n += (size_t)snprintf(o + n, sizeof(ring[0]) - n,
			    "\\x%02x", (unsigned char)*s);
		else
			o[n++] = *s;
	}
	o[n] = '\0';
	return o;
}

static void
test_strlcpy(void)
{
	char d[8];

	memset(d, 'X', sizeof(d));
	is_int(rb_strlcpy(d, "abc", sizeof(d)), 3, "strlcpy returns strlen");
	is_str(d, "abc", "strlcpy copies");
	is_int(rb_strlcpy(d, "abcdefgh", sizeof(d)), 8,
	    "truncation returns strlen(src)");
	is_str(d, "abcdefg", "truncated to size-1 and terminated");
	is_int(rb_strlcpy(d, "abcdefg", sizeof(d)), 7, "exact fit");
	is_str(d, "abcdefg", "exact fit copied");
	memset(d, 'X', sizeof(d));
	is_int(rb_strlcpy(d, "abc", 1), 3, "size 1");
	ok(d[0] == '\0' && d[1] == 'X', "size 1 writes only the NUL");
	memset(d, 'X', sizeof(d));
	is_int(rb_strlcpy(d, "abc", 0), 3, "size 0");
	ok(d[0] == 'X', "size 0 writes nothing");
	is_int(rb_strlcpy(d, "", sizeof(d)), 0, "empty source");
	is_str(d, "", "empty copied");
}

static void
test_buf(void)
{
	struct rb_buf b = { 0 };
	struct rb_buf c = { .max = 10 };
	char big[10000];
	size_t i;

	is_int(rb_buf_append(&b, "", 0), 0, "append nothing");
	ok(b.data != NULL && b.data[0] == '\0' && b.len == 0,
	    "empty append still gives a terminated string");
	is_int(rb_buf_puts(&b, "hello"), 0, "puts");
	is_int(rb_buf_printf(&b, " %s %d %c", "world", -42, '!'), 0, "printf");
	is_str(b.data, "hello world -42 !", "printf appends");
	is_int(b.len, strlen("hello world -42 !"), "len tracks");
	is_int(rb_buf_append(&b, "a\0b", 3), 0, "binary append");
	is_int(b.len, 20, "binary len");
	ok(memcmp(b.data + 17, "a\0b", 4) == 0, "binary bytes + NUL");
	memset(big, 'z', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	is_int(rb_buf_printf(&b, "%s", big), 0, "printf grows past 256");
	is_int(b.len, 20 + sizeof(big) - 1, "grown len");
	ok(b.cap > b.len && b.data[b.len] == '\0', "cap > len, terminated");
	rb_buf_free(&b);
	ok(b.data == NULL && b.len == 0 && b.cap == 0, "free resets");
	is_int(rb_buf_puts(&b, "again"), 0, "usable after free");
	is_str(b.data, "again", "reused");
	rb_buf_free(&b);

	/* Hard cap: len may reach max, never pass it; a failed append
	 * leaves the buffer as it was. */
	is_int(rb_buf_puts(&c, "12345"), 0, "cap: 5 of 10");
	is_int(rb_buf_printf(&c, "%d", 67890), 0, "cap: exactly 10");
	is_int(c.len, 10, "cap: len 10");
	is_int(rb_buf_append(&c, "x", 1), -1, "cap: 11th byte refused");
	is_int(rb_buf_append(&c, "", 0), 0, "cap: empty append at cap ok");
	is_int(rb_buf_printf(&c, "%s", "y"), -1, "cap: printf refused");
	is_str(c.data, "1234567890", "cap: unchanged after refusals");
	is_int(c.len, 10, "cap: len unchanged");
	rb_buf_free(&c);
	c.max = 10;
	is_int(rb_buf_printf(&c, "%s", "12345678901"), -1,
	    "cap: one printf over the cap refused");
	is_int(c.len, 0, "cap: nothing appended");
	is_int(rb_buf_append(&c, big, SIZE_MAX), -1, "SIZE_MAX append refused");
	rb_buf_free(&c);

	/* Default cap (max 0) is 64 MiB: a huge append is refused without
	 * trying to allocate it. */
	is_int(rb_buf_append(&b, big, (64u << 20) + 1), -1,
	    "default cap refuses 64 MiB + 1");
	ok(b.data == NULL, "nothing allocated for a refused append");
	for (i = 0; i < 100; i++)
		if (rb_buf_printf(&b, "%zu,", i) == -1)
			break;
	is_int(i, 100, "100 printfs");
	ok(strncmp(b.data, "0,1,2,", 6) == 0 &&
	    strcmp(b.data + b.len - 3, "99,") == 0, "printf sequence intact");
	rb_buf_free(&b);
}

static void
test_parse_long(void)
{
	static const struct {
		const char *s;
		long want;
	} good[] = {
		{ "0", 0 }, { "-0", 0 }, { "7", 7 }, { "007", 7 }, { "-42", -42 },
		{ "9223372036854775807", LONG_MAX },
		{ "-9223372036854775808", LONG_MIN },
	};
	static const char *const bad[] = {
		"", " 5", "5 ", "\t5", "\n5", "\v5", "\f5", "\r5", "5\n", "+5",
		"--5", "-", "+", "5x", "0x10", "1e3", "1.0", "1,000", "١",
		"9223372036854775808", "-9223372036854775809",
		"99999999999999999999999",
	};
	long v;
	size_t i;

	for (i = 0; i < RB_NELEM(good); i++) {
		v = 12345;
		is_int(rb_parse_long(good[i].s, LONG_MIN, LONG_MAX, &v), 0,
		    "parse '%s'", good[i].s);
		is_int(v, good[i].want, "value of '%s'", good[i].s);
	}
	for (i = 0; i < RB_NELEM(bad); i++) {
		v = 12345;
		is_int(rb_parse_long(bad[i], LONG_MIN, LONG_MAX, &v), -1,
		    "reject '%s' (#%zu)", esc(bad[i]), i);
		is_int(v, 12345, "out untouched for #%zu", i);
	}
	is_int(rb_parse_long(NULL, 0, 1, &v), -1, "reject NULL");
	is_int(rb_parse_long("10", 1, 10, &v), 0, "max inclusive");
	is_int(rb_parse_long("1", 1, 10, &v), 0, "min inclusive");
	is_int(rb_parse_long("11", 1, 10, &v), -1, "above max");
	is_int(rb_parse_long("0", 1, 10, &v), -1, "below min");
	is_int(rb_parse_long("-1", 0, 10, &v), -1, "negative below 0");
	errno = ERANGE;
	is_int(rb_parse_long("5", 0, 10, &v), 0, "stale errno ignored");
	is_int(v, 5, "stale errno value");
}

static void
test_hex(void)
{
	unsigned char all[256], back[256], out[4];
	char hex[513];
	size_t i;

	for (i = 0; i < 256; i++)
		all[i] = (unsigned char)i;
	rb_hex_encode(all, 256, hex);
	is_int(strlen(hex), 512, "hex of 256 bytes");
	ok(strncmp(hex, "000102", 6) == 0 &&
	    strcmp(hex + 506, "fdfeff") == 0, "lower-case hex");
	is_int(rb_hex_decode(hex, back, 256), 0, "decode all bytes");
	ok(memcmp(all, back, 256) == 0, "hex round trip");
	is_int(rb_hex_decode("DEADbeef", out, 4), 0, "mixed case");
	ok(out[0] == 0xde && out[1] == 0xad && out[2] == 0xbe &&
	    out[3] == 0xef, "mixed case value");
	is_int(rb_hex_decode("deadbee", out, 4), -1, "odd length");
	is_int(rb_hex_decode("deadbeef00", out, 4), -1, "too long");
	is_int(rb_hex_decode("deadbeeg", out, 4), -1, "non-hex g");
	is_int(rb_hex_decode("dead beef", out, 4), -1, "space");
	is_int(rb_hex_decode(" deadbee", out, 4), -1, "leading space");
	is_int(rb_hex_decode("0xdeadbe", out, 4), -1, "0x prefix");
	is_int(rb_hex_decode("", out, 0), 0, "empty is 0 bytes");
	rb_hex_encode(all, 0, hex);
	is_str(hex, "", "encode 0 bytes");
}

/* Deterministic pseudo-random bytes. */
static void
fill(unsigned char *p, size_t n, unsigned seed)
{
	size_t i;

	for (i = 0; i < n; i++) {
		seed = seed * 1103515245u + 12345u;
		p[i] = (unsigned char)(seed >> 16);
	}
}

static void
test_base64(void)
{
	/* RFC 4648 section 10 */
	static const struct {
		const char *in, *std, *url;
	} v[] = {
		{ "", "", "" },
		{ "f", "Zg==", "Zg" },
		{ "fo", "Zm8=", "Zm8" },
		{ "foo", "Zm9v", "Zm9v" },
		{ "foob", "Zm9vYg==", "Zm9vYg" },
		{ "fooba", "Zm9vYmE=", "Zm9vYmE" },
		{ "foobar", "Zm9vYmFy", "Zm9vYmFy" },
	};
	static const char *const bad_std[] = {
		"Zg=", "Zg", "Z", "Zm9vY", "Zm9v!A==", "Zm9v\nYg==", "Zm9v Yg==",
		"=Zg=", "Z===", "Zg=a", "Zm9vYg==Zg==", "Zm-v", "Zm_v", "====",
		"Zm9vYg===",
	};
	static const char *const bad_url[] = {
		"Z", "Zm9vY", "Zg==", "Zg=", "Zm8=", "Zm+v", "Zm/v", "Zm9v!",
		"Zm 9v", "Zm9v\n", "Zm9vYmFyZ",
	};
	unsigned char raw[300], *dec;
	unsigned char edge[3] = { 0xfb, 0xff, 0xbf };
	size_t i, n, outlen;
	char *enc;

	for (i = 0; i < RB_NELEM(v); i++) {
		n = strlen(v[i].in);
		enc = NULL;
		is_int(rb_b64_encode((const unsigned char *)v[i].in, n, &enc),
		    0, "b64 encode '%s'", v[i].in);
		is_str(enc, v[i].std, "b64 of '%s'", v[i].in);
		free(enc);
		enc = NULL;
		is_int(rb_b64url_encode((const unsigned char *)v[i].in, n,
		    &enc), 0, "b64url encode '%s'", v[i].in);
		is_str(enc, v[i].url, "b64url of '%s'", v[i].in);
		free(enc);
		dec = NULL;
		outlen = 999;
		is_int(rb_b64_decode(v[i].std, strlen(v[i].std), &dec,
		    &outlen), 0, "b64 decode '%s'", v[i].std);
		ok(dec != NULL && outlen == n && memcmp(dec, v[i].in, n) == 0 &&
		    dec[n] == '\0', "b64 decodes to '%s' (terminated)",
		    v[i].in);
		free(dec);
		dec = NULL;
		outlen = 999;
		is_int(rb_b64url_decode(v[i].url, strlen(v[i].url), &dec,
		    &outlen), 0, "b64url decode '%s'", v[i].url);
		ok(dec != NULL && outlen == n && memcmp(dec, v[i].in, n) == 0,
		    "b64url decodes to '%s'", v[i].in);
		free(dec);
	}

	/* The two alphabets differ in exactly '+' '/' vs '-' '_'. */
	is_int(rb_b64_encode(edge, 3, &enc), 0, "b64 edge encode");
	is_str(enc, "+/+/", "standard alphabet");
	free(enc);
	is_int(rb_b64url_encode(edge, 3, &enc), 0, "b64url edge encode");
	is_str(enc, "-_-_", "url alphabet");
	free(enc);
	is_int(rb_b64url_decode("-_-_", 4, &dec, &outlen), 0, "url decode -_");
	ok(outlen == 3 && memcmp(dec, edge, 3) == 0, "url -_ value");
	free(dec);

	/* Round trips of every length 1..299 (0 is in the vectors above). */
	for (n = 1; n < sizeof(raw); n++) {
		int good = 1;

		fill(raw, n, (unsigned)n + 1);
		enc = NULL;
		dec = NULL;
		if (rb_b64_encode(raw, n, &enc) == -1 ||
		    rb_b64_decode(enc, strlen(enc), &dec, &outlen) == -1 ||
		    outlen != n || memcmp(dec, raw, n) != 0)
			good = 0;
		free(enc);
		free(dec);
		enc = NULL;
		dec = NULL;
		if (rb_b64url_encode(raw, n, &enc) == -1 ||
		    strchr(enc, '=') != NULL || strchr(enc, '+') != NULL ||
		    strchr(enc, '/') != NULL ||
		    rb_b64url_decode(enc, strlen(enc), &dec, &outlen) == -1 ||
		    outlen != n || memcmp(dec, raw, n) != 0)
			good = 0;
		free(enc);
		free(dec);
		if (!good) {
			ok(0, "round trip of %zu bytes", n);
			break;
		}
	}
	if (n == sizeof(raw))
		ok(1, "round trips of 1..299 bytes, both alphabets");

	for (i = 0; i < RB_NELEM(bad_std); i++) {
		dec = (unsigned char *)&i;
		is_int(rb_b64_decode(bad_std[i], strlen(bad_std[i]), &dec,
		    &outlen), -1, "b64 rejects '%s'", esc(bad_std[i]));
		ok(dec == NULL, "b64 reject leaves *out NULL (#%zu)", i);
	}
	for (i = 0; i < RB_NELEM(bad_url); i++) {
		dec = (unsigned char *)&i;
		is_int(rb_b64url_decode(bad_url[i], strlen(bad_url[i]), &dec,
		    &outlen), -1, "b64url rejects '%s'", esc(bad_url[i]));
		ok(dec == NULL, "b64url reject leaves *out NULL (#%zu)", i);
	}
	/* Embedded NUL within n, and n shorter than the string. */
	is_int(rb_b64_decode("Zm\0v", 4, &dec, &outlen), -1, "b64 NUL inside");
	is_int(rb_b64url_decode("Zm\0v", 4, &dec, &outlen), -1,
	    "b64url NUL inside");
	is_int(rb_b64url_decode("Zm8vYmFy", 3, &dec, &outlen), 0,
	    "b64url reads only n bytes");
	ok(outlen == 2 && memcmp(dec, "fo", 2) == 0, "n bytes decoded");
	free(dec);
	/* Non-canonical trailing bits would give two spellings of one value. */
	is_int(rb_b64_decode("Zh==", 4, &dec, &outlen), -1, "b64 Zh== refused");
	is_int(rb_b64url_decode("Zh", 2, &dec, &outlen), -1, "b64url Zh refused");
	is_int(rb_b64url_decode("Zm9", 3, &dec, &outlen), -1,
	    "b64url Zm9 refused");
	/* Too large inputs are refused before allocating. */
	is_int(rb_b64_encode(raw, (16u << 20) + 1, &enc), -1,
	    "b64 encode over 16 MiB refused");
	is_int(rb_b64url_decode("AAAA", (16u << 20) + 4, &dec, &outlen), -1,
	    "b64url decode over 16 MiB refused");
}

static void
test_uuid(void)
{
	static const char *const bad[] = {
		"", "123e4567-e89b-12d3-a456-42661417400",
		"123e4567-e89b-12d3-a456-4266141740000",
		"123e4567e89b-12d3-a456-4266141740000",
		"123e4567-e89b-12d3-a456_426614174000",
		"123e4567-e89b-12d3-a456-42661417400g",
		"{23e4567-e89b-12d3-a456-42661417400}",
		"123e4567-e89b-12d3-a4564-26614174000",
		" 23e4567-e89b-12d3-a456-426614174000",
		"123e4567-e89b-12d3-a456-426614174000\n",
	};
	char u[37], u2[37];
	size_t i;
	int good;

	ok(rb_is_uuid("123e4567-e89b-12d3-a456-426614174000"), "lower uuid");
	ok(rb_is_uuid("123E4567-E89B-12D3-A456-426614174000"), "upper uuid");
	ok(rb_is_uuid("00000000-0000-0000-0000-000000000000"), "nil uuid");
	ok(!rb_is_uuid(NULL), "NULL is not a uuid");
	for (i = 0; i < RB_NELEM(bad); i++)
		ok(!rb_is_uuid(bad[i]), "not a uuid: '%s'", esc(bad[i]));

	memset(u, 'X', sizeof(u));
	is_int(rb_uuid_v4(u), 0, "uuid_v4");
	is_int(strlen(u), 36, "36 characters");
	ok(rb_is_uuid(u), "v4 is a uuid: %s", u);
	for (good = 1, i = 0; i < 200; i++) {
		size_t j;

		if (rb_uuid_v4(u) == -1 || !rb_is_uuid(u) || u[14] != '4' ||
		    strchr("89ab", u[19]) == NULL)
			good = 0;
		for (j = 0; j < 36; j++)
			if (u[j] >= 'A' && u[j] <= 'F')
				good = 0;
	}
	ok(good, "200 v4 uuids: version 4, variant 10xx, lower-case");
	if (rb_uuid_v4(u) == -1 || rb_uuid_v4(u2) == -1)
		ok(0, "two uuids");
	else
		ok(strcmp(u, u2) != 0, "two uuids differ");
}

static void
write_file(const char *path, const char *data, size_t len)
{
	FILE *f = fopen(path, "w");

	if (f == NULL || fwrite(data, 1, len, f) != len || fclose(f) != 0) {
		printf("Bail out! cannot write %s\n", path);
		exit(1);
	}
}

static void
test_read_file(void)
{
	struct rb_err err;
	char path[300], *s;
	size_t len;

	(void)snprintf(path, sizeof(path), "%s/ten", tmpdir);
	write_file(path, "0123\0" "56789", 10);
	memset(&err, 0, sizeof(err));
	len = 0;
	is_int(rb_read_file(path, 10, &s, &len, &err), 0, "exactly max bytes");
	ok(s != NULL && len == 10 && memcmp(s, "0123\0" "56789", 11) == 0,
	    "contents with NUL, terminated");
	free(s);
	s = (char *)path;
	is_int(rb_read_file(path, 9, &s, &len, &err), -1, "max + 1 refused");
	ok(s == NULL, "*out NULL on failure");
	is_str(err.code, "file_too_large", "file_too_large");
	ok(strstr(err.msg, path) != NULL, "message names the file");
	is_int(rb_read_file(path, 10, &s, NULL, &err), 0, "len may be NULL");
	free(s);

	(void)snprintf(path, sizeof(path), "%s/empty", tmpdir);
	write_file(path, "", 0);
	is_int(rb_read_file(path, 10, &s, &len, &err), 0, "empty file");
	ok(s != NULL && s[0] == '\0' && len == 0, "empty string");
	free(s);
	/* max 0 means "at most 0 bytes", not "the 64 MiB default". */
	is_int(rb_read_file(path, 0, &s, &len, &err), 0, "empty file, max 0");
	free(s);
	(void)snprintf(path, sizeof(path), "%s/ten", tmpdir);
	s = NULL;
	is_int(rb_read_file(path, 0, &s, &len, &err), -1,
	    "10 bytes with max 0 refused");
	free(s);

	(void)snprintf(path, sizeof(path), "%s/none", tmpdir);
	memset(&err, 0, sizeof(err));
	is_int(rb_read_file(path, 10, &s, &len, &err), -1, "missing file");
	is_str(err.code, "file_unreadable", "file_unreadable");
	ok(strstr(err.msg, "No such file") != NULL, "reason: %s", err.msg);
	is_int(rb_read_file(tmpdir, 10, &s, &len, &err), -1, "a directory");
	is_int(rb_read_file(path, 10, &s, &len, NULL), -1, "err may be NULL");
}

static volatile sig_atomic_t stop_flag;

static void
on_alarm(int sig)
{
	(void)sig;
	stop_flag = 1;
}

static void
test_sleep(void)
{
	struct itimerval it = { .it_value = { .tv_usec = 150000 } };
	struct sigaction sa;
	int64_t t0, dt;

	ok(rb_now_ms() > 1577836800000LL, "realtime after 2020");
	t0 = rb_mono_ms();
	is_int(rb_sleep_ms(30, NULL), 0, "sleep 30 ms, no flag");
	dt = rb_mono_ms() - t0;
	ok(dt >= 30 && dt < 1000, "slept 30 ms (%lld)", (long long)dt);
	stop_flag = 0;
	is_int(rb_sleep_ms(20, &stop_flag), 0, "flag clear: 0");
	stop_flag = 1;
	t0 = rb_mono_ms();
	is_int(rb_sleep_ms(10000, &stop_flag), -1, "flag set: -1");
	ok(rb_mono_ms() - t0 < 50, "flag set: returns at once");
	is_int(rb_sleep_ms(0, &stop_flag), -1, "0 ms with flag set: -1");
	stop_flag = 0;
	is_int(rb_sleep_ms(0, &stop_flag), 0, "0 ms: 0");
	is_int(rb_sleep_ms(-5, &stop_flag), 0, "negative ms: 0");

	/* A signal handler sets the flag 150 ms into a 10 s sleep. */
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_alarm;
	if (sigaction(SIGALRM, &sa, NULL) == -1 ||
	    setitimer(ITIMER_REAL, &it, NULL) == -1) {
		ok(0, "set up SIGALRM");
		return;
	}
	t0 = rb_mono_ms();
	is_int(rb_sleep_ms(10000, &stop_flag), -1, "woken by the flag");
	dt = rb_mono_ms() - t0;
	ok(dt >= 140 && dt < 600, "woke within the poll interval (%lld ms)",
	    (long long)dt);
}

static void
test_err(void)
{
	struct rb_err e;
	char long_arg[1000];

	memset(long_arg, 'a', sizeof(long_arg) - 1);
	long_arg[sizeof(long_arg) - 1] = '\0';
	is_int(rb_err_set(NULL, 400, "x", "y"), -1, "rb_err_set(NULL) -1");
	is_int(rb_err_set(&e, 404, "not_found", "No %s %d.", "shop", 7), -1,
	    "rb_err_set returns -1");
	is_int(e.status, 404, "status");
	is_str(e.code, "not_found", "code");
	is_str(e.msg, "No shop 7.", "msg");
	(void)rb_err_set(&e, 500, "a_code_that_is_far_too_long_for_the_field"
	    "_of_48_bytes", "%s", long_arg);
	is_int(strlen(e.code), sizeof(e.code) - 1, "code truncated");
	is_int(strlen(e.msg), sizeof(e.msg) - 1, "msg truncated");
	rb_err_clear(&e);
	ok(e.status == 0 && e.code[0] == '\0' && e.msg[0] == '\0', "clear");
	rb_err_clear(NULL);
	ok(1, "rb_err_clear(NULL) is harmless");
}

int
main(void)
{
	char cmd[100];

	if (mkdtemp(tmpdir) == NULL) {
		printf("Bail out! mkdtemp failed\n");
		return 1;
	}
	test_strlcpy();
	test_buf();
	test_parse_long();
	test_hex();
	test_base64();
	test_uuid();
	test_read_file();
	test_sleep();
	test_err();
	(void)snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpdir);
	if (system(cmd) != 0)
		printf("# could not remove %s\n", tmpdir);
	return done_testing();
}
