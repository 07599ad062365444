/*
 * shopify_scopes.c - access scopes: what ReBoss needs, what a shop
 * granted, what is missing.  Owner: the "shops" module (shopify_scopes.h).
 * Pure functions: unit-tested in tests/unit/test_shopify_scopes.c.
 */
#include <stdio.h>
#include <string.h>

#include "config.h"
#include "shopify_scopes.h"

/* [*s, *s + *n) without the spaces around it. */
static void
trim(const char **s, size_t *n)
{
	while (*n > 0 && **s == ' ') {
		(*s)++;
		(*n)--;
	}
	while (*n > 0 && (*s)[*n - 1] == ' ')
		(*n)--;
}

/* Is scope [s, s+n) in the comma-separated list? */
static bool
scope_in(const char *list, const char *s, size_t n)
{
	const char *p = list;

	while (p != NULL && *p != '\0') {
		const char *e = strchr(p, ',');
		size_t len = e != NULL ? (size_t)(e - p) : strlen(p);
		const char *a = p;

		trim(&a, &len);
		if (len == n && memcmp(a, s, n) == 0)
			return true;
		p = e != NULL ? e + 1 : NULL;
	}
	return false;
}

/* scope_in, or for read_X also write_X. */
static bool
granted_n(const char *granted, const char *s, size_t n)
{
	char alt[96];
	int w;

	if (scope_in(granted, s, n))
		return true;
	if (n <= 5 || n >= sizeof(alt) - 1 || strncmp(s, "read_", 5) != 0)
		return false;
	w = snprintf(alt, sizeof(alt), "write_%.*s", (int)n - 5, s + 5);
	return w > 0 && (size_t)w < sizeof(alt) &&
	    scope_in(granted, alt, (size_t)w);
}

bool
shopify_scope_granted(const char *granted, const char *scope)
{
	return granted != NULL && scope != NULL &&
	    granted_n(granted, scope, strlen(scope));
}

int
shopify_missing_scopes(const char *wanted, const char *granted,
    char *missing, size_t missingsz)
{
	const char *p = wanted;
	size_t o = 0;
	int count = 0;

	if (missingsz == 0)
		return -1;
	missing[0] = '\0';
	if (granted == NULL)
		granted = "";
	while (p != NULL && *p != '\0') {
		const char *e = strchr(p, ',');
		const char *a = p;
		size_t len = e != NULL ? (size_t)(e - p) : strlen(p);

		trim(&a, &len);
		p = e != NULL ? e + 1 : NULL;
		if (len == 0 || granted_n(granted, a, len))
			continue;
		/* ", " before all but the first, and the NUL */
		if (o + (count > 0 ? 2 : 0) + len + 1 > missingsz)
			return -1;
		if (count > 0) {
			memcpy(missing + o, ", ", 2);
			o += 2;
		}
		memcpy(missing + o, a, len);
		o += len;
		missing[o] = '\0';
		count++;
	}
	return count;
}

const char *
shopify_wanted_scopes(const struct rb_config *cfg)
{
	return cfg != NULL && cfg->shopify_scopes != NULL &&
	    cfg->shopify_scopes[0] != '\0' ? cfg->shopify_scopes :
	    SHOPIFY_DEFAULT_SCOPES;
}

int
shopify_check_scopes(const struct rb_config *cfg, const char *granted,
    const char *todo, char *missing, size_t missingsz, bool *limited,
    struct rb_err *err)
{
	char all[SHOPIFY_SCOPES_MAX];
	int n;

	if (missingsz > 0)
		missing[0] = '\0';
	if (limited != NULL)
		*limited = !shopify_scope_granted(granted,
		    SHOPIFY_SCOPE_ALL_ORDERS);
	n = shopify_missing_scopes(shopify_wanted_scopes(cfg), granted, all,
	    sizeof(all));
	if (n < 0)
		return rb_err_set(err, 500, "internal_error",
		    "The access scopes could not be compared (the list of "
		    "scopes is too long).");
	if (n == 0)
		return 0;
	/* read_all_orders alone is no reason to refuse: it limits the
	 * history to 60 days (*limited says so). */
	n = shopify_missing_scopes(all, SHOPIFY_SCOPE_ALL_ORDERS, missing,
	    missingsz);
	if (n < 0)
		return rb_err_set(err, 500, "internal_error",
		    "The access scopes could not be compared.");
	if (n == 0)
		return 0;
	return rb_err_set(err, 403, "missing_scopes",
	    "Shopify granted fewer access scopes than ReBoss needs; "
	    "missing: %s.  %s", missing, todo != NULL ? todo : "");
}
