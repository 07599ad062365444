/*
 * fuzz_domain.c - shopify_normalize_domain, the only way a user-supplied
 * shop reaches a URL (owner: fuzzing).
 *
 * Invariants: an accepted output matches
 *   ^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.myshopify\.com$
 * and normalizing it again gives it back unchanged.
 */
#include <stdbool.h>

#include "fuzz.h"
#include "shopify.h"

const char fuzz_target[] = "domain";

static bool
alnum_lower(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
}

/* The regular expression above, by hand (no regex engine in the loop). */
static bool
domain_ok(const char *s)
{
	static const char suffix[] = ".myshopify.com";
	size_t n = strlen(s), name, i;

	if (n <= sizeof(suffix) - 1 ||
	    strcmp(s + n - (sizeof(suffix) - 1), suffix) != 0)
		return false;
	name = n - (sizeof(suffix) - 1);
	if (name < 1 || name > 63)
		return false;
	if (!alnum_lower(s[0]) || !alnum_lower(s[name - 1]))
		return false;
	for (i = 1; i + 1 < name; i++)
		if (!alnum_lower(s[i]) && s[i] != '-')
			return false;
	return true;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char out[SHOPIFY_DOMAIN_MAX], again[SHOPIFY_DOMAIN_MAX];
	struct rb_err err;
	char *s;

	if (size > 4096)
		return 0;
	s = fuzz_str(data, size);
	memset(out, 0x5a, sizeof(out));
	if (shopify_normalize_domain(s, out, &err) == 0) {
		FUZZ_CHECK(memchr(out, '\0', sizeof(out)) != NULL);
		if (!domain_ok(out)) {
			fprintf(stderr, "accepted \"%s\" as \"%s\"\n", s, out);
			abort();
		}
		FUZZ_CHECK(shopify_normalize_domain(out, again, &err) == 0);
		FUZZ_CHECK(strcmp(out, again) == 0);
	} else
		FUZZ_CHECK(err.code[0] != '\0');
	free(s);
	return 0;
}
