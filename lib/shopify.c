/*
 * shopify.c - the Shopify Admin GraphQL client (see shopify.h).
 *
 * Every query below is validated against the 2026-10 schema
 * (tests/specs/shopify-admin-2026-10.introspection.json.gz) with
 * graphql-js and NoDeprecatedCustomRule; none uses a deprecated field
 * (Collection.ruleSet is deprecated in 2026-10: smart collections are read
 * from Collection.sources).  Keep each under the 1000-point single-query cost.
 *
 * The access token lives only in struct shopify and in the header buffer of
 * one request; it is wiped after use and never logged or put in an rb_err.
 */
#include <ctype.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <strings.h>

#include "config.h"
#include "http.h"
#include "log.h"
#include "metrics.h"
#include "shopify.h"
#include "util.h"

#define SHOPIFY_DEF_TIMEOUT_MS		30000L
#define SHOPIFY_DEF_THROTTLE_RETRIES	20
#define SHOPIFY_THROTTLE_MARGIN_MS	100L
#define SHOPIFY_THROTTLE_MAX_WAIT_MS	60000L
#define SHOPIFY_MAX_RESPONSE		(16u * 1024u * 1024u)
#define SHOPIFY_MAX_PAGES		100000L
#define SHOPIFY_MSG_MAX			200	/* Shopify text we quote */

/* The shop, with every field the REST shop.json mapping needs (cost ~7). */
#define SHOP_SELECTION \
	"  shop {\n" \
	"    id name email contactEmail myshopifyDomain url\n" \
	"    primaryDomain { host url sslEnabled }\n" \
	"    currencyCode enabledPresentmentCurrencies\n" \
	"    ianaTimezone timezoneAbbreviation timezoneOffset" \
	" timezoneOffsetMinutes\n" \
	"    plan { publicDisplayName partnerDevelopment shopifyPlus }\n" \
	"    shopOwnerName\n" \
	"    shopAddress { company address1 address2 city province" \
	" provinceCode zip country countryCodeV2 phone latitude longitude }\n" \
	"    currencyFormats { moneyFormat moneyWithCurrencyFormat" \
	" moneyInEmailsFormat moneyWithCurrencyInEmailsFormat }\n" \
	"    weightUnit unitSystem taxesIncluded taxShipping setupRequired" \
	" checkoutApiSupported\n" \
	"    createdAt updatedAt\n" \
	"    features { storefront giftCards }\n" \
	"  }\n"

static const char Q_SHOP[] =
	"query ReBossShop {\n"
	SHOP_SELECTION
	"}\n";

/* A connect: the shop and the access scopes the token was granted. */
static const char Q_SHOP_SCOPES[] =
	"query ReBossConnect {\n"
	SHOP_SELECTION
	"  currentAppInstallation { accessScopes { handle } }\n"
	"}\n";

/* Every collection, 250 a page (cost 2 + 250 * 2 = 502). */
static const char Q_COLLECTIONS[] =
	"query ReBossCollections($cursor: String) {\n"
	"  collections(first: 250, after: $cursor) {\n"
	"    nodes { id title handle updatedAt productsCount { count } }\n"
	"    pageInfo { hasNextPage endCursor }\n"
	"  }\n"
	"}\n";

/*
 * The smart collections' conditions, from Collection.sources.  Every
 * condition type names its fields with its own aliases because the
 * relation enums and value types differ between the types (GraphQL refuses
 * to merge same-named fields of different types); the C side reads any key
 * ending in "Rel" as the relation, "Val" as the value(s), "Def" as the
 * metafield definition.  50 a page: about 2 + 50 * 6 points.
 */
static const char Q_SMART_COLLECTIONS[] =
	"query ReBossSmartCollections($cursor: String) {\n"
	"  collections(first: 50, after: $cursor,"
	" query: \"collection_type:smart\") {\n"
	"    nodes {\n"
	"      id\n"
	"      sources {\n"
	"        __typename\n"
	"        ... on CollectionConditionsSource {\n"
	"          inclusion {\n"
	"            matchType\n"
	"            conditions {\n"
	"              __typename\n"
	"              ... on CollectionSourceInclusionConditionProductTag"
	" { tagRel: relation tagVal: values }\n"
	"              ... on CollectionSourceInclusionConditionProductTitle"
	" { titleRel: relation titleVal: values }\n"
	"              ... on CollectionSourceInclusionConditionProductType"
	" { typeRel: relation typeVal: values }\n"
	"              ... on CollectionSourceInclusionConditionProductVendor"
	" { vendorRel: relation vendorVal: values }\n"
	"              ... on CollectionSourceInclusionConditionProductStatus"
	" { statusRel: relation statusVal: values }\n"
	"              ... on CollectionSourceInclusionConditionProductCategory"
	" { categoryRel: relation categoryVal: values { category { id } } }\n"
	"              ... on CollectionSourceInclusionConditionVariantTitle"
	" { vtitleRel: relation vtitleVal: values }\n"
	"              ... on CollectionSourceInclusionConditionVariantPrice"
	" { priceRel: relation priceVal: value { amount } }\n"
	"              ... on"
	" CollectionSourceInclusionConditionVariantCompareAtPrice"
	" { compareRel: relation compareVal: value { amount } }\n"
	"              ... on CollectionSourceInclusionConditionVariantWeight"
	" { weightRel: relation weightVal: value { value } }\n"
	"              ... on CollectionSourceInclusionConditionVariantInventory"
	" { inventoryRel: relation inventoryVal: value }\n"
	"              ... on CollectionSourceInclusionConditionMetafieldString"
	" { mfsRel: relation mfsVal: values mfsDef: definition"
	" { id ownerType } }\n"
	"              ... on"
	" CollectionSourceInclusionConditionMetafieldStringList"
	" { mfslRel: relation mfslVal: values mfslDef: definition"
	" { id ownerType } }\n"
	"              ... on CollectionSourceInclusionConditionMetafieldBoolean"
	" { mfbRel: relation mfbVal: value mfbDef: definition"
	" { id ownerType } }\n"
	"              ... on CollectionSourceInclusionConditionMetafieldInteger"
	" { mfiRel: relation mfiVal: value mfiDef: definition"
	" { id ownerType } }\n"
	"              ... on CollectionSourceInclusionConditionMetafieldDecimal"
	" { mfdRel: relation mfdVal: value mfdDef: definition"
	" { id ownerType } }\n"
	"              ... on"
	" CollectionSourceInclusionConditionMetafieldMetaobject"
	" { mfoRel: relation mfoVal: value { id } mfoDef: definition"
	" { id ownerType } }\n"
	"              ... on"
	" CollectionSourceInclusionConditionMetafieldMetaobjectList"
	" { mfolRel: relation mfolVal: values { id } mfolDef: definition"
	" { id ownerType } }\n"
	"              ... on CollectionSourceInclusionConditionUnknown"
	" { unknownRel: relation unknownVal: values }\n"
	"            }\n"
	"          }\n"
	"        }\n"
	"      }\n"
	"    }\n"
	"    pageInfo { hasNextPage endCursor }\n"
	"  }\n"
	"}\n";

/* ---- domain ----------------------------------------------------------- */

static const char SUFFIX[] = ".myshopify.com";

static bool
shopify_name_ok(const char *name, size_t n)
{
	size_t i;

	if (n < 1 || n > 63 || name[0] == '-' || name[n - 1] == '-')
		return false;
	for (i = 0; i < n; i++) {
		char c = name[i];

		if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
		    c == '-'))
			return false;
	}
	return true;
}

int
shopify_normalize_domain(const char *in, char out[SHOPIFY_DOMAIN_MAX],
    struct rb_err *err)
{
	char buf[SHOPIFY_DOMAIN_MAX];
	size_t n, i, slen = sizeof(SUFFIX) - 1;

	if (out != NULL)
		out[0] = '\0';
	if (in == NULL || out == NULL)
		goto bad;
	if (strncasecmp(in, "https://", 8) == 0)
		in += 8;
	else if (strncasecmp(in, "http://", 7) == 0)
		in += 7;
	n = strnlen(in, sizeof(buf));
	if (n >= sizeof(buf))
		goto bad;
	if (n > 0 && in[n - 1] == '/')
		n--;
	for (i = 0; i < n; i++) {
		unsigned char c = (unsigned char)in[i];

		/* bytes >= 0x80 stay as they are and are refused below */
		buf[i] = (c >= 'A' && c <= 'Z') ? (char)(c - 'A' + 'a') :
		    (char)c;
	}
	buf[n] = '\0';
	if (n > slen && memcmp(buf + n - slen, SUFFIX, slen) == 0)
		n -= slen;
	if (!shopify_name_ok(buf, n))
		goto bad;
	memcpy(out, buf, n);
	memcpy(out + n, SUFFIX, slen + 1);
	return 0;
bad:
	/* The input is not echoed: it may be anything. */
	return rb_err_set(err, 400, "invalid_shop_domain",
	    "The shop domain must be the shop's name or NAME.myshopify.com "
	    "(for example my-shop or https://my-shop.myshopify.com), where "
	    "NAME is 1 to 63 letters, digits or hyphens.");
}

/* ---- pure helpers ------------------------------------------------------ */

static const char SCOPES_MSG[] =
	"Shopify refused the request for a missing access scope: give the "
	"custom app of this shop the Admin API scopes read_products, "
	"write_products, read_orders, read_publications and "
	"write_publications, then reinstall it and copy the new token.";

/* Copies at most SHOPIFY_MSG_MAX bytes of Shopify's text, printable
 * ASCII only. */
static void
shopify_quote(const char *in, char *out, size_t outsz)
{
	size_t i, o = 0, max = outsz - 1;

	if (max > SHOPIFY_MSG_MAX)
		max = SHOPIFY_MSG_MAX;
	for (i = 0; in != NULL && in[i] != '\0' && o < max; i++) {
		unsigned char c = (unsigned char)in[i];

		out[o++] = (c >= 0x20 && c < 0x7f) ? (char)c : ' ';
	}
	out[o] = '\0';
}

int
shopify_map_status(long st, const char *body, struct rb_err *err)
{
	char detail[SHOPIFY_MSG_MAX + 1] = "";
	json_t *root = NULL, *e;

	if (st >= 200 && st <= 299)
		return 0;
	if (body != NULL &&
	    (root = json_loads(body, JSON_DISABLE_EOF_CHECK, NULL)) != NULL &&
	    json_is_object(root) && json_is_string(e = json_object_get(root,
	    "errors")))
		shopify_quote(json_string_value(e), detail, sizeof(detail));
	json_decref(root);

	switch (st) {
	case 401:
		return rb_err_set(err, 400, "shopify_invalid_token",
		    "Shopify refused the access token: check that you copied "
		    "the Admin API access token (shpat_...) of the custom app "
		    "for this shop.");
	case 402:
		return rb_err_set(err, 402, "shopify_payment_required",
		    "Shopify says this shop is frozen for an unpaid bill: the "
		    "shop owner must settle it in the Shopify admin.");
	case 403:
		return rb_err_set(err, 403, "shopify_missing_scope", "%s",
		    SCOPES_MSG);
	case 404:
		return rb_err_set(err, 404, "shopify_shop_not_found",
		    "Shopify has no shop at this domain (or the API version "
		    "is unknown): check the shop's myshopify.com name.");
	case 423:
		return rb_err_set(err, 423, "shopify_shop_locked",
		    "Shopify has locked this shop: the shop owner must contact "
		    "Shopify support.");
	case 429:
		return rb_err_set(err, 503, "shopify_throttled",
		    "Shopify is rate limiting this shop; try again in a "
		    "minute.");
	case 504:
		return rb_err_set(err, 504, "shopify_timeout",
		    "Shopify did not answer in time; try again later.");
	default:
		break;
	}
	if (st >= 500 && st <= 599)
		return rb_err_set(err, 502, "shopify_unavailable",
		    "Shopify answered HTTP %ld (a problem on Shopify's side); "
		    "try again later.", st);
	return rb_err_set(err, 502, "shopify_bad_response",
	    "Shopify answered HTTP %ld unexpectedly%s%s.", st,
	    detail[0] != '\0' ? ": " : "", detail);
}

long
shopify_throttle_wait_ms(double needed, double available, double restore)
{
	double ms;

	if (!isfinite(needed) || !isfinite(available))
		return 1000;
	if (needed <= available)
		return 0;
	if (!isfinite(restore) || restore <= 0)
		return 1000;
	ms = ceil((needed - available) / restore * 1000.0);
	if (ms > (double)SHOPIFY_THROTTLE_MAX_WAIT_MS)
		return SHOPIFY_THROTTLE_MAX_WAIT_MS;
	return (long)ms;
}

long long
shopify_gid_id(const char *gid)
{
	static const char pfx[] = "gid://shopify/";
	const char *p, *d;
	long long v = 0;

	if (gid == NULL || strncmp(gid, pfx, sizeof(pfx) - 1) != 0)
		return -1;
	p = gid + sizeof(pfx) - 1;
	if (!isalpha((unsigned char)*p))
		return -1;
	while (isalnum((unsigned char)*p))
		p++;
	if (*p++ != '/')
		return -1;
	if (*p == '\0')
		return -1;
	for (d = p; *d != '\0'; d++) {
		if (!isdigit((unsigned char)*d) ||
		    v > (LLONG_MAX - (*d - '0')) / 10)
			return -1;
		v = v * 10 + (*d - '0');
	}
	return v;
}

/* Appends s to buf (size bytes, *o used), cutting what does not fit. */
static void
cut_append(char *buf, size_t size, size_t *o, const char *s)
{
	size_t n = strlen(s);

	if (*o + 1 >= size)
		return;
	if (n > size - 1 - *o)
		n = size - 1 - *o;
	memcpy(buf + *o, s, n);
	*o += n;
	buf[*o] = '\0';
}

bool
shopify_user_error(json_t *payload, char *buf, size_t size)
{
	json_t *ue = json_object_get(payload, "userErrors"), *e, *f, *x;
	const char *m;
	size_t i, o = 0;

	if (json_array_size(ue) == 0)
		return false;
	if (size == 0)
		return true;
	/* Written straight into buf, cut at its size: a field path of any
	 * length cannot leave it unwritten (an rb_buf cap once did). */
	buf[0] = '\0';
	e = json_array_get(ue, 0);
	m = json_string_value(json_object_get(e, "message"));
	f = json_object_get(e, "field");
	json_array_foreach(f, i, x) {
		cut_append(buf, size, &o, i ? "." : "");
		cut_append(buf, size, &o, json_is_string(x) ?
		    json_string_value(x) : "?");
	}
	if (json_array_size(f) > 0)
		cut_append(buf, size, &o, ": ");
	cut_append(buf, size, &o, m ? m : "error");
	return true;
}

/* ---- client ------------------------------------------------------------ */

int
shopify_open(struct shopify *s, struct http_client *http,
    const struct rb_config *cfg, const char *domain, const char *token,
    struct rb_err *err)
{
	char check[SHOPIFY_DOMAIN_MAX];
	const char *base, *ver, *ph, *p;
	size_t tlen;
	int n;

	if (s == NULL)
		return rb_err_set(err, 500, "internal_error",
		    "shopify_open was called without a struct.");
	memset(s, 0, sizeof(*s));
	if (http == NULL)
		return rb_err_set(err, 500, "internal_error",
		    "shopify_open was called without an HTTP client.");
	if (domain == NULL || shopify_normalize_domain(domain, check, err) ==
	    -1)
		goto fail;
	if (strcmp(check, domain) != 0) {
		rb_err_set(err, 400, "invalid_shop_domain",
		    "The shop domain was not normalized before use.");
		goto fail;
	}
	tlen = token != NULL ? strnlen(token, SHOPIFY_TOKEN_MAX) : 0;
	if (tlen == 0 || tlen >= SHOPIFY_TOKEN_MAX) {
		rb_err_set(err, 400, "shopify_invalid_token",
		    "The Shopify access token is empty or longer than %d "
		    "characters: copy the Admin API access token (shpat_...) "
		    "of the custom app for this shop.", SHOPIFY_TOKEN_MAX - 1);
		goto fail;
	}
	for (p = token; *p != '\0'; p++)
		if ((unsigned char)*p <= 0x20 || (unsigned char)*p >= 0x7f) {
			rb_err_set(err, 400, "shopify_invalid_token",
			    "The Shopify access token contains spaces or "
			    "characters that cannot be in a token: copy it "
			    "again.");
			goto fail;
		}

	base = cfg != NULL && cfg->shopify_base_url != NULL &&
	    cfg->shopify_base_url[0] != '\0' ? cfg->shopify_base_url :
	    "https://{shop}";
	ver = cfg != NULL && cfg->shopify_api_version != NULL &&
	    cfg->shopify_api_version[0] != '\0' ? cfg->shopify_api_version :
	    "2026-10";
	for (p = ver; *p != '\0'; p++)
		if (!isalnum((unsigned char)*p) && *p != '-') {
			rb_err_set(err, 500, "config_invalid",
			    "shopify_api_version must look like 2026-10.");
			goto fail;
		}
	if ((ph = strstr(base, "{shop}")) == NULL) {
		rb_err_set(err, 500, "config_invalid",
		    "shopify_base_url must contain {shop}.");
		goto fail;
	}
	n = snprintf(s->url, sizeof(s->url), "%.*s%s%s/admin/api/%s/graphql.json",
	    (int)(ph - base), base, check, ph + 6, ver);
	if (n < 0 || (size_t)n >= sizeof(s->url)) {
		rb_err_set(err, 500, "config_invalid",
		    "shopify_base_url is too long.");
		goto fail;
	}
	s->http = http;
	rb_strlcpy(s->domain, check, sizeof(s->domain));
	memcpy(s->token, token, tlen + 1);
	s->timeout_ms = SHOPIFY_DEF_TIMEOUT_MS;
	s->max_throttle_retries = SHOPIFY_DEF_THROTTLE_RETRIES;
	s->available = -1;	/* unknown until the first answer */
	return 0;
fail:
	explicit_bzero(s, sizeof(*s));
	return -1;
}

void
shopify_close(struct shopify *s)
{
	if (s == NULL)
		return;
	explicit_bzero(s->token, sizeof(s->token));
	s->http = NULL;
	if (s->renew != NULL)
		free(s->hook_arg);
	s->hook_arg = NULL;
	s->renew = NULL;
	s->refused = NULL;
}

/* The token header for the client's current token. */
static int
shopify_auth_header(const struct shopify *s, char *auth, size_t size,
    struct rb_err *err)
{
	int rc = snprintf(auth, size, "X-Shopify-Access-Token: %s", s->token);

	if (rc < 0 || (size_t)rc >= size)
		return rb_err_set(err, 500, "internal_error", "Token too long.");
	return 0;
}

/* Asks the owner for a new token (refused: the one Shopify refused, or
 * NULL when only its time is up) and rebuilds the header. */
static int
shopify_renew(struct shopify *s, bool refused, char *auth, size_t size,
    struct rb_err *err)
{
	char old[SHOPIFY_TOKEN_MAX];
	int rc;

	memcpy(old, s->token, sizeof(old));
	rc = s->renew(s->hook_arg, refused ? old : NULL, s->token,
	    &s->renew_at, err);
	explicit_bzero(old, sizeof(old));
	if (rc == -1)
		return -1;
	s->renewed++;
	return shopify_auth_header(s, auth, size, err);
}

static double
jnum(json_t *o, const char *key, double dflt)
{
	json_t *v = json_object_get(o, key);

	return json_is_number(v) ? json_number_value(v) : dflt;
}

static void
shopify_read_cost(struct shopify *s, json_t *root)
{
	json_t *cost, *ts;

	cost = json_object_get(json_object_get(root, "extensions"), "cost");
	if (!json_is_object(cost))
		return;
	s->requested = jnum(cost, "requestedQueryCost", s->requested);
	ts = json_object_get(cost, "throttleStatus");
	if (json_is_object(ts)) {
		s->maximum = jnum(ts, "maximumAvailable", s->maximum);
		s->available = jnum(ts, "currentlyAvailable", s->available);
		s->restore_rate = jnum(ts, "restoreRate", s->restore_rate);
	}
}

static int
shopify_wait(struct shopify *s, long ms, struct rb_err *err)
{
	s->throttled_waits++;
	s->throttle_wait_ms += ms;
	metrics_upstream_wait("shopify", ms);
	log_info("Shopify %s: cost bucket low (%.0f of %.0f available, "
	    "%.0f needed), waiting %ld ms", s->domain, s->available,
	    s->maximum, s->requested, ms);
	if (rb_sleep_ms(ms, s->stop) == -1)
		return rb_err_set(err, 503, "cancelled",
		    "The Shopify request was cancelled because the program is "
		    "stopping.");
	/* The bucket refilled meanwhile (at most to its maximum). */
	if (s->restore_rate > 0 && s->available >= 0) {
		s->available += s->restore_rate * (double)ms / 1000.0;
		if (s->maximum > 0 && s->available > s->maximum)
			s->available = s->maximum;
	}
	return 0;
}

/* A query (not a mutation) may be sent again after a 5xx. */
static bool
shopify_is_query(const char *q)
{
	while (isspace((unsigned char)*q))
		q++;
	return *q == '{' || (strncmp(q, "query", 5) == 0 &&
	    !isalnum((unsigned char)q[5]) && q[5] != '_');
}

static int
shopify_map_http_err(struct shopify *s, struct rb_err *err)
{
	if (err == NULL)
		return -1;
	if (strcmp(err->code, "upstream_timeout") == 0)
		return rb_err_set(err, 504, "shopify_timeout",
		    "Shopify (%s) did not answer in time; try again later.",
		    s->domain);
	if (strcmp(err->code, "upstream_unreachable") == 0)
		return rb_err_set(err, 502, "shopify_unavailable",
		    "Shopify (%s) could not be reached; try again later.",
		    s->domain);
	if (strcmp(err->code, "upstream_tls") == 0)
		return rb_err_set(err, 502, "shopify_unavailable",
		    "Shopify (%s) could not be reached securely: its TLS "
		    "certificate was not accepted.", s->domain);
	if (strcmp(err->code, "upstream_truncated") == 0)
		return rb_err_set(err, 502, "shopify_bad_response",
		    "Shopify (%s) sent an answer that was cut off; try again "
		    "later.", s->domain);
	if (strcmp(err->code, "upstream_too_large") == 0)
		return rb_err_set(err, 502, "shopify_bad_response",
		    "Shopify's answer was larger than the %u bytes ReBoss "
		    "accepts.", SHOPIFY_MAX_RESPONSE);
	return -1;	/* cancelled, internal_error: as they are */
}

/* Looks at "errors": 1 = THROTTLED, 0 = none, -1 = failure set in err. */
static int
shopify_check_errors(json_t *root, struct rb_err *err)
{
	json_t *errors, *e, *code;
	const char *first = NULL;
	char quoted[SHOPIFY_MSG_MAX + 1];
	size_t i;
	bool throttled = false, denied = false;

	errors = json_object_get(root, "errors");
	if (errors == NULL || json_is_null(errors))
		return 0;
	if (json_is_string(errors))	/* {"errors":"..."} on some 4xx */
		first = json_string_value(errors);
	if (json_is_array(errors)) {
		if (json_array_size(errors) == 0)
			return 0;
		json_array_foreach(errors, i, e) {
			code = json_object_get(json_object_get(e, "extensions"),
			    "code");
			if (json_is_string(code)) {
				if (strcmp(json_string_value(code),
				    "THROTTLED") == 0)
					throttled = true;
				else if (strcmp(json_string_value(code),
				    "ACCESS_DENIED") == 0)
					denied = true;
			}
			if (first == NULL &&
			    json_is_string(json_object_get(e, "message")))
				first = json_string_value(json_object_get(e,
				    "message"));
		}
	}
	if (throttled)
		return 1;
	if (denied)
		return rb_err_set(err, 403, "shopify_missing_scope", "%s",
		    SCOPES_MSG);
	shopify_quote(first != NULL ? first : "no message", quoted,
	    sizeof(quoted));
	return rb_err_set(err, 502, "shopify_graphql_error",
	    "Shopify refused the query: %s", quoted);
}

/*
 * A document as JSON string text, escaped once per process: the documents
 * are constants, and escaping one (~1 KB) with jansson cost more than the
 * rest of building a request (bench/README.md).  The text is compared, not
 * only the pointer.  NULL: out of memory; *owned says whether to free.
 */
#define SHOPIFY_QCACHE	32
static struct {
	const char	*src;		/* the caller's pointer */
	char		*text;		/* a copy of what it held */
	char		*json;
} qcache[SHOPIFY_QCACHE];

static char *
shopify_query_json(const char *query, bool *owned)
{
	json_t *str;
	char *json;
	int i;

	*owned = false;
	for (i = 0; i < SHOPIFY_QCACHE && qcache[i].src != NULL; i++)
		if (qcache[i].src == query && strcmp(qcache[i].text,
		    query) == 0)
			return qcache[i].json;
	if ((str = json_string(query)) == NULL)
		return NULL;
	json = json_dumps(str, JSON_ENCODE_ANY);
	json_decref(str);
	if (json == NULL)
		return NULL;
	if (i < SHOPIFY_QCACHE && (qcache[i].text = strdup(query)) != NULL) {
		qcache[i].src = query;
		qcache[i].json = json;
	} else
		*owned = true;
	return json;
}

/* {"query":...,"variables":...} for one request; NULL: out of memory. */
static char *
shopify_graphql_body(const char *query, json_t *vars, size_t *len)
{
	struct rb_buf b = { 0 };
	char *q, *v = NULL;
	bool owned;
	int rc;

	if ((q = shopify_query_json(query, &owned)) == NULL)
		return NULL;
	if (vars != NULL && (v = json_dumps(vars, JSON_COMPACT)) == NULL)
		goto out;
	rc = rb_buf_puts(&b, "{\"query\":");
	rc |= rb_buf_puts(&b, q);
	rc |= rb_buf_puts(&b, ",\"variables\":");
	rc |= rb_buf_puts(&b, v != NULL ? v : "{}");
	rc |= rb_buf_puts(&b, "}");
	if (rc != 0)
		rb_buf_free(&b);
out:
	if (owned)
		free(q);
	free(v);
	*len = b.len;
	return b.data;
}

/*
 * One attempt of a request, with the owner's hooks: renews a token whose
 * time is up before sending, and after a 401 once per request (1: send
 * again, auth rebuilt); tells the owner of a refusal for good.  0: resp
 * holds a 2xx answer.
 */
static int
shopify_send(struct shopify *s, struct http_request *req,
    struct http_response *resp, bool *renewed, char *auth, size_t authsz,
    struct rb_err *err)
{
	if (s->renew != NULL && s->renew_at > 0 &&
	    (long long)time(NULL) >= s->renew_at && shopify_renew(s, false,
	    auth, authsz, err) == -1)
		return -1;
	s->requests++;
	if (http_request(s->http, req, resp, err) == -1)
		return shopify_map_http_err(s, err);
	if (resp->status == 401 && s->renew != NULL && !*renewed) {
		*renewed = true;
		http_response_free(resp);
		log_info("Shopify %s: HTTP 401, renewing the token", s->domain);
		return shopify_renew(s, true, auth, authsz, err) == -1 ? -1 : 1;
	}
	if (shopify_map_status(resp->status, resp->body, err) == -1) {
		log_warn("Shopify %s: HTTP %ld (%s)", s->domain, resp->status,
		    err != NULL ? err->code : "");
		if (s->refused != NULL)
			s->refused(s->hook_arg, resp->status, s->token);
		return -1;
	}
	return 0;
}

int
shopify_graphql(struct shopify *s, const char *query, json_t *vars,
    json_t **data, struct rb_err *err)
{
	char auth[sizeof("X-Shopify-Access-Token: ") + SHOPIFY_TOKEN_MAX];
	const char *hdrs[4];
	struct http_request req;
	struct http_response resp;
	json_t *root = NULL, *d;
	char *text = NULL;
	size_t text_len = 0;
	json_error_t jerr;
	int tries, max_tries, rc;
	long wait;
	bool renewed = false;

	memset(&resp, 0, sizeof(resp));
	auth[0] = '\0';
	if (data != NULL)
		*data = NULL;
	if (s == NULL || s->http == NULL || query == NULL || data == NULL) {
		rb_err_set(err, 500, "internal_error",
		    "shopify_graphql was called without a client or query.");
		goto fail;
	}
	if ((text = shopify_graphql_body(query, vars, &text_len)) == NULL) {
		rb_err_oom(err);
		goto fail;
	}
	if (shopify_auth_header(s, auth, sizeof(auth), err) == -1)
		goto fail;
	hdrs[0] = auth;
	hdrs[1] = "Content-Type: application/json";
	hdrs[2] = "Accept: application/json";
	hdrs[3] = NULL;
	memset(&req, 0, sizeof(req));
	req.method = "POST";
	req.url = s->url;
	req.headers = hdrs;
	req.body = text;
	req.body_len = text_len;
	req.timeout_ms = s->timeout_ms > 0 ? s->timeout_ms :
	    SHOPIFY_DEF_TIMEOUT_MS;
	req.max_response = SHOPIFY_MAX_RESPONSE;
	req.max_attempts = s->max_attempts;
	req.retry_unsafe = shopify_is_query(query);
	req.service = "shopify";
	max_tries = s->max_throttle_retries > 0 ? s->max_throttle_retries :
	    SHOPIFY_DEF_THROTTLE_RETRIES;

	for (tries = 0; ; tries++) {
		/* Wait for the bucket rather than be refused. */
		if (s->available >= 0 && s->requested > 0 &&
		    s->available < s->requested) {
			wait = shopify_throttle_wait_ms(s->requested,
			    s->available, s->restore_rate);
			if (wait > 0 && shopify_wait(s, wait +
			    SHOPIFY_THROTTLE_MARGIN_MS, err) == -1)
				goto fail;
		}
		if ((rc = shopify_send(s, &req, &resp, &renewed, auth,
		    sizeof(auth), err)) == -1)
			goto fail;
		if (rc == 1) {		/* renewed after a 401: once more */
			tries--;
			continue;
		}
		json_decref(root);
		root = json_loadb(resp.body, resp.len, 0, &jerr);
		if (!json_is_object(root)) {
			rb_err_set(err, 502, "shopify_bad_response",
			    "Shopify's answer was not a JSON object (%s).",
			    root == NULL ? "invalid or truncated JSON" :
			    "another JSON value");
			goto fail;
		}
		http_response_free(&resp);
		shopify_read_cost(s, root);
		rc = shopify_check_errors(root, err);
		if (rc == -1)
			goto fail;
		if (rc == 0)
			break;
		/* THROTTLED */
		if (tries + 1 >= max_tries) {
			rb_err_set(err, 503, "shopify_throttled",
			    "Shopify kept throttling this shop after %d "
			    "attempts; try again later.", tries + 1);
			goto fail;
		}
		wait = shopify_throttle_wait_ms(s->requested > 0 ?
		    s->requested : 1, s->available >= 0 ? s->available : 0,
		    s->restore_rate);
		if (wait <= 0)
			wait = 1000;
		if (shopify_wait(s, wait + SHOPIFY_THROTTLE_MARGIN_MS, err) ==
		    -1)
			goto fail;
	}
	d = json_object_get(root, "data");
	if (!json_is_object(d)) {
		rb_err_set(err, 502, "shopify_bad_response",
		    "Shopify's answer had no data.");
		goto fail;
	}
	*data = json_incref(d);
	explicit_bzero(auth, sizeof(auth));
	json_decref(root);
	free(text);
	return 0;
fail:
	explicit_bzero(auth, sizeof(auth));
	http_response_free(&resp);
	json_decref(root);
	free(text);
	return -1;
}

/* data.a.b.c for path "a.b.c" (borrowed), or NULL. */
static json_t *
shopify_path(json_t *data, const char *path)
{
	char seg[128];
	const char *p = path, *dot;
	size_t n;

	while (data != NULL && *p != '\0') {
		dot = strchr(p, '.');
		n = dot != NULL ? (size_t)(dot - p) : strlen(p);
		if (n == 0 || n >= sizeof(seg))
			return NULL;
		memcpy(seg, p, n);
		seg[n] = '\0';
		data = json_object_get(data, seg);
		p += n;
		if (*p == '.')
			p++;
	}
	return data;
}

int
shopify_paginate(struct shopify *s, const char *query, json_t *vars,
    const char *path, int (*page)(void *ctx, json_t *nodes,
    struct rb_err *err), void *ctx, struct rb_err *err)
{
	json_t *v = NULL, *data = NULL, *conn, *nodes, *pi, *next, *endc;
	char *cursor = NULL;
	long pages;

	if (s == NULL || query == NULL || path == NULL || page == NULL) {
		rb_err_set(err, 500, "internal_error",
		    "shopify_paginate was called without its arguments.");
		goto fail;
	}
	v = vars != NULL ? json_deep_copy(vars) : json_object();
	if (!json_is_object(v) || json_object_set_new(v, "cursor",
	    json_null()) == -1) {
		rb_err_set(err, 500, "internal_error",
		    "The variables of a paginated query must be an object.");
		goto fail;
	}
	for (pages = 0; ; pages++) {
		if (pages >= SHOPIFY_MAX_PAGES) {
			rb_err_set(err, 502, "shopify_bad_response",
			    "Shopify returned more than %ld pages of %s.",
			    SHOPIFY_MAX_PAGES, path);
			goto fail;
		}
		if (shopify_graphql(s, query, v, &data, err) == -1)
			goto fail;
		conn = shopify_path(data, path);
		nodes = json_object_get(conn, "nodes");
		pi = json_object_get(conn, "pageInfo");
		if (!json_is_object(conn) || !json_is_array(nodes) ||
		    !json_is_object(pi)) {
			rb_err_set(err, 502, "shopify_bad_response",
			    "Shopify's answer had no %s nodes and pageInfo.",
			    path);
			goto fail;
		}
		if (err != NULL)
			err->code[0] = '\0';
		if (page(ctx, nodes, err) != 0) {
			if (err != NULL && err->code[0] == '\0')
				rb_err_set(err, 500, "internal_error",
				    "Processing a page of %s failed.", path);
			goto fail;
		}
		next = json_object_get(pi, "hasNextPage");
		if (!json_is_true(next))
			break;
		endc = json_object_get(pi, "endCursor");
		if (!json_is_string(endc) || json_string_length(endc) == 0 ||
		    (cursor != NULL &&
		    strcmp(cursor, json_string_value(endc)) == 0)) {
			rb_err_set(err, 502, "shopify_bad_response",
			    "Shopify returned a missing or repeated page cursor "
			    "for %s.", path);
			goto fail;
		}
		free(cursor);
		if ((cursor = strdup(json_string_value(endc))) == NULL ||
		    json_object_set_new(v, "cursor", json_string(cursor)) ==
		    -1) {
			rb_err_oom(err);
			goto fail;
		}
		json_decref(data);
		data = NULL;
	}
	json_decref(data);
	json_decref(v);
	free(cursor);
	return 0;
fail:
	json_decref(data);
	json_decref(v);
	free(cursor);
	return -1;
}

/* ---- shop -------------------------------------------------------------- */

/* Copies o[gkey] to out[rkey] when present and not null. */
static int
copy_key(json_t *out, const char *rkey, json_t *o, const char *gkey)
{
	json_t *v = json_object_get(o, gkey);

	if (v == NULL || json_is_null(v))
		return 0;
	return json_object_set(out, rkey, v);
}

static const char *
weight_unit_rest(const char *g)
{
	static const struct { const char *g, *r; } m[] = {
		{ "KILOGRAMS", "kg" }, { "GRAMS", "g" }, { "POUNDS", "lb" },
		{ "OUNCES", "oz" },
	};
	size_t i;

	for (i = 0; g != NULL && i < RB_NELEM(m); i++)
		if (strcmp(g, m[i].g) == 0)
			return m[i].r;
	return NULL;
}

/* Shopify shop JSON (REST keys) from the GraphQL shop object. */
static json_t *
shop_to_rest(json_t *g)
{
	json_t *out, *addr, *plan, *fmt, *pd, *feat;
	const char *s, *wu;
	char buf[128];
	long long id;
	size_t i;
	int e = 0;

	if ((out = json_object()) == NULL)
		return NULL;
	addr = json_object_get(g, "shopAddress");
	plan = json_object_get(g, "plan");
	fmt = json_object_get(g, "currencyFormats");
	pd = json_object_get(g, "primaryDomain");
	feat = json_object_get(g, "features");

	s = json_string_value(json_object_get(g, "id"));
	if ((id = shopify_gid_id(s)) >= 0)
		e |= json_object_set_new(out, "id", json_integer(id));
	e |= copy_key(out, "admin_graphql_api_id", g, "id");
	e |= copy_key(out, "name", g, "name");
	e |= copy_key(out, "email", g, "email");
	e |= copy_key(out, "customer_email", g, "contactEmail");
	e |= copy_key(out, "domain", pd, "host");
	e |= copy_key(out, "myshopify_domain", g, "myshopifyDomain");
	e |= copy_key(out, "currency", g, "currencyCode");
	e |= copy_key(out, "enabled_presentment_currencies", g,
	    "enabledPresentmentCurrencies");
	e |= copy_key(out, "iana_timezone", g, "ianaTimezone");
	/* REST: "(GMT-05:00) America/New_York"; offset is "-0500" */
	s = json_string_value(json_object_get(g, "timezoneOffset"));
	if (s != NULL && strlen(s) == 5 &&
	    json_is_string(json_object_get(g, "ianaTimezone"))) {
		int n = snprintf(buf, sizeof(buf), "(GMT%c%c%c:%c%c) %s", s[0],
		    s[1], s[2], s[3], s[4], json_string_value(
		    json_object_get(g, "ianaTimezone")));
		if (n > 0 && (size_t)n < sizeof(buf))
			e |= json_object_set_new(out, "timezone",
			    json_string(buf));
	}
	s = json_string_value(json_object_get(plan, "publicDisplayName"));
	if (s != NULL) {
		/* REST plan_name is snake_case: "Shopify Plus" -> "shopify_plus" */
		for (i = 0; i < sizeof(buf) - 1 && s[i] != '\0'; i++)
			buf[i] = isalnum((unsigned char)s[i]) ?
			    (char)tolower((unsigned char)s[i]) : '_';
		buf[i] = '\0';
		e |= json_object_set_new(out, "plan_name", json_string(buf));
		e |= copy_key(out, "plan_display_name", plan,
		    "publicDisplayName");
	}
	e |= copy_key(out, "shopify_plus", plan, "shopifyPlus");
	e |= copy_key(out, "partner_development", plan, "partnerDevelopment");
	e |= copy_key(out, "shop_owner", g, "shopOwnerName");
	e |= copy_key(out, "country_code", addr, "countryCodeV2");
	e |= copy_key(out, "country", addr, "countryCodeV2");
	e |= copy_key(out, "country_name", addr, "country");
	e |= copy_key(out, "province", addr, "province");
	e |= copy_key(out, "province_code", addr, "provinceCode");
	e |= copy_key(out, "city", addr, "city");
	e |= copy_key(out, "address1", addr, "address1");
	e |= copy_key(out, "address2", addr, "address2");
	e |= copy_key(out, "zip", addr, "zip");
	e |= copy_key(out, "phone", addr, "phone");
	e |= copy_key(out, "latitude", addr, "latitude");
	e |= copy_key(out, "longitude", addr, "longitude");
	e |= copy_key(out, "company", addr, "company");
	e |= copy_key(out, "money_format", fmt, "moneyFormat");
	e |= copy_key(out, "money_with_currency_format", fmt,
	    "moneyWithCurrencyFormat");
	e |= copy_key(out, "money_in_emails_format", fmt,
	    "moneyInEmailsFormat");
	e |= copy_key(out, "money_with_currency_in_emails_format", fmt,
	    "moneyWithCurrencyInEmailsFormat");
	if ((wu = weight_unit_rest(json_string_value(json_object_get(g,
	    "weightUnit")))) != NULL)
		e |= json_object_set_new(out, "weight_unit", json_string(wu));
	e |= copy_key(out, "taxes_included", g, "taxesIncluded");
	e |= copy_key(out, "tax_shipping", g, "taxShipping");
	e |= copy_key(out, "setup_required", g, "setupRequired");
	e |= copy_key(out, "checkout_api_supported", g, "checkoutApiSupported");
	e |= copy_key(out, "has_storefront", feat, "storefront");
	e |= copy_key(out, "has_gift_cards", feat, "giftCards");
	e |= copy_key(out, "created_at", g, "createdAt");
	e |= copy_key(out, "updated_at", g, "updatedAt");
	if (e != 0) {
		json_decref(out);
		return NULL;
	}
	return out;
}

/* The granted access scopes of data.currentAppInstallation, comma-
 * separated into out. */
static int
scopes_join(json_t *data, char *out, size_t outsz, struct rb_err *err)
{
	json_t *sc = json_object_get(json_object_get(data,
	    "currentAppInstallation"), "accessScopes"), *v;
	size_t i, o = 0;

	if (!json_is_array(sc))
		return rb_err_set(err, 502, "shopify_bad_response",
		    "Shopify's answer had no access scopes.");
	out[0] = '\0';
	json_array_foreach(sc, i, v) {
		const char *h = json_string_value(json_object_get(v, "handle"));
		size_t n = h != NULL ? strlen(h) : 0;

		if (n == 0 || strpbrk(h, ", ") != NULL)
			return rb_err_set(err, 502, "shopify_bad_response",
			    "Shopify's answer had an access scope without a "
			    "usable handle.");
		if (o + n + 2 > outsz)
			return rb_err_set(err, 502, "shopify_bad_response",
			    "Shopify granted more access scopes than ReBoss "
			    "can keep (%zu bytes).", outsz);
		if (o > 0)
			out[o++] = ',';
		memcpy(out + o, h, n + 1);
		o += n;
	}
	return 0;
}

/* Runs query (Q_SHOP or Q_SHOP_SCOPES): *shop in REST keys, and with
 * scopes != NULL the granted access scopes. */
static int
get_shop(struct shopify *s, const char *query, json_t **shop, char *scopes,
    size_t scopessz, struct rb_err *err)
{
	json_t *data = NULL, *g;

	if (shop != NULL)
		*shop = NULL;
	if (shop == NULL) {
		rb_err_set(err, 500, "internal_error",
		    "shopify_get_shop was called without a result pointer.");
		goto fail;
	}
	if (shopify_graphql(s, query, NULL, &data, err) == -1)
		goto fail;
	g = json_object_get(data, "shop");
	if (!json_is_object(g)) {
		rb_err_set(err, 502, "shopify_bad_response",
		    "Shopify's answer had no shop.");
		goto fail;
	}
	if (scopes != NULL && scopes_join(data, scopes, scopessz, err) == -1)
		goto fail;
	if ((*shop = shop_to_rest(g)) == NULL) {
		rb_err_oom(err);
		goto fail;
	}
	json_decref(data);
	return 0;
fail:
	json_decref(data);
	return -1;
}

int
shopify_get_shop(struct shopify *s, json_t **shop, struct rb_err *err)
{
	return get_shop(s, Q_SHOP, shop, NULL, 0, err);
}

int
shopify_get_shop_scopes(struct shopify *s, json_t **shop, char *scopes,
    size_t scopessz, struct rb_err *err)
{
	if (scopes == NULL || scopessz == 0)
		return rb_err_set(err, 500, "internal_error",
		    "shopify_get_shop_scopes was called without room for the "
		    "scopes.");
	scopes[0] = '\0';
	return get_shop(s, Q_SHOP_SCOPES, shop, scopes, scopessz, err);
}

/* ---- collections ------------------------------------------------------- */

struct coll_ctx {
	json_t	*list;		/* array, PRODUCT.md's shape */
	json_t	*by_gid;	/* gid -> element of list (borrowed) */
};

static int
coll_page(void *vctx, json_t *nodes, struct rb_err *err)
{
	struct coll_ctx *c = vctx;
	json_t *n, *o, *cnt;
	const char *gid;
	long long id;
	size_t i;
	int e;

	json_array_foreach(nodes, i, n) {
		gid = json_string_value(json_object_get(n, "id"));
		if ((id = shopify_gid_id(gid)) < 0)
			return rb_err_set(err, 502, "shopify_bad_response",
			    "Shopify returned a collection without a valid "
			    "id.");
		if ((o = json_object()) == NULL)
			return -1;
		e = json_object_set_new(o, "id", json_integer(id));
		e |= json_object_set_new(o, "admin_graphql_api_id",
		    json_string(gid));
		e |= copy_key(o, "title", n, "title");
		e |= copy_key(o, "handle", n, "handle");
		e |= json_object_set_new(o, "collection_type",
		    json_string("custom"));
		cnt = json_object_get(json_object_get(n, "productsCount"),
		    "count");
		if (json_is_integer(cnt))
			e |= json_object_set(o, "products_count", cnt);
		e |= copy_key(o, "updated_at", n, "updatedAt");
		e |= json_object_set(c->by_gid, gid, o);
		e |= json_array_append_new(c->list, o);
		if (e != 0)
			return rb_err_oom(err);
	}
	return 0;
}

/* REST column for a condition's __typename. */
static const char *
rule_column(const char *type, json_t *cond)
{
	static const char pfx[] = "CollectionSourceInclusionCondition";
	static const struct { const char *t, *c; } m[] = {
		{ "ProductTag", "tag" }, { "ProductTitle", "title" },
		{ "ProductType", "type" }, { "ProductVendor", "vendor" },
		{ "ProductStatus", "product_status" },
		{ "ProductCategory", "product_category_id" },
		{ "VariantTitle", "variant_title" },
		{ "VariantPrice", "variant_price" },
		{ "VariantCompareAtPrice", "variant_compare_at_price" },
		{ "VariantWeight", "variant_weight" },
		{ "VariantInventory", "variant_inventory" },
	};
	const char *k, *owner;
	json_t *v;
	size_t i;

	if (type == NULL || strncmp(type, pfx, sizeof(pfx) - 1) != 0)
		return "unknown";
	type += sizeof(pfx) - 1;
	for (i = 0; i < RB_NELEM(m); i++)
		if (strcmp(type, m[i].t) == 0)
			return m[i].c;
	if (strncmp(type, "Metafield", 9) == 0) {
		json_object_foreach(cond, k, v) {
			size_t l = strlen(k);

			if (l < 3 || strcmp(k + l - 3, "Def") != 0)
				continue;
			owner = json_string_value(json_object_get(v,
			    "ownerType"));
			if (owner != NULL && strcmp(owner, "PRODUCTVARIANT") == 0)
				return "variant_metafield_definition";
			return "product_metafield_definition";
		}
		return "product_metafield_definition";
	}
	return "unknown";
}

static const char *
rule_relation(const char *g, char *buf, size_t bufsz)
{
	static const struct { const char *g, *r; } m[] = {
		{ "TAGGED_WITH", "equals" }, { "NOT_TAGGED_WITH", "not_equals" },
		{ "DOES_NOT_CONTAIN", "not_contains" }, { "INCLUDES", "equals" },
	};
	size_t i;

	if (g == NULL)
		return "equals";
	for (i = 0; i < RB_NELEM(m); i++)
		if (strcmp(g, m[i].g) == 0)
			return m[i].r;
	/* EQUALS, NOT_EQUALS, GREATER_THAN, STARTS_WITH, IS_SET...: lower */
	for (i = 0; i < bufsz - 1 && g[i] != '\0'; i++)
		buf[i] = (char)tolower((unsigned char)g[i]);
	buf[i] = '\0';
	return buf;
}

/* One value as REST's condition string (new reference). */
static json_t *
rule_condition(json_t *v)
{
	char buf[64];
	json_t *x;

	if (json_is_string(v))
		return json_incref(v);
	if (json_is_integer(v)) {
		(void)snprintf(buf, sizeof(buf), "%" JSON_INTEGER_FORMAT,
		    json_integer_value(v));
		return json_string(buf);
	}
	if (json_is_real(v)) {
		(void)snprintf(buf, sizeof(buf), "%.15g", json_real_value(v));
		return json_string(buf);
	}
	if (json_is_boolean(v))
		return json_string(json_is_true(v) ? "true" : "false");
	if (json_is_object(v)) {
		/* MoneyV2 {amount}, Weight {value}, Metaobject {id},
		 * category value {category {id}} */
		if ((x = json_object_get(v, "amount")) != NULL ||
		    (x = json_object_get(v, "value")) != NULL ||
		    (x = json_object_get(v, "id")) != NULL ||
		    (x = json_object_get(json_object_get(v, "category"),
		    "id")) != NULL)
			return rule_condition(x);
	}
	return json_string("");
}

static int
add_rules(json_t *rules, json_t *cond)
{
	const char *k, *col, *rel = NULL;
	char relbuf[48];
	json_t *v, *val = NULL, *def = NULL, *r, *item;
	long long defid;
	size_t l, i;
	int e = 0;

	col = rule_column(json_string_value(json_object_get(cond,
	    "__typename")), cond);
	json_object_foreach(cond, k, v) {
		l = strlen(k);
		if (l > 3 && strcmp(k + l - 3, "Rel") == 0)
			rel = json_string_value(v);
		else if (l > 3 && strcmp(k + l - 3, "Val") == 0)
			val = v;
		else if (l > 3 && strcmp(k + l - 3, "Def") == 0)
			def = v;
	}
	rel = rule_relation(rel, relbuf, sizeof(relbuf));
	defid = shopify_gid_id(json_string_value(json_object_get(def, "id")));
	/* REST has one value per rule: a condition with several values
	 * becomes several rules. */
	for (i = 0; ; i++) {
		if (json_is_array(val)) {
			if (i >= json_array_size(val))
				break;
			item = json_array_get(val, i);
		} else {
			if (i > 0)
				break;
			item = val;
		}
		if ((r = json_object()) == NULL)
			return -1;
		e |= json_object_set_new(r, "column", json_string(col));
		e |= json_object_set_new(r, "relation", json_string(rel));
		e |= json_object_set_new(r, "condition", rule_condition(item));
		if (defid >= 0)
			e |= json_object_set_new(r, "condition_object_id",
			    json_integer(defid));
		e |= json_array_append_new(rules, r);
		if (e != 0)
			return -1;
	}
	return 0;
}

static int
smart_page(void *vctx, json_t *nodes, struct rb_err *err)
{
	struct coll_ctx *c = vctx;
	json_t *n, *o, *srcs, *src, *inc, *conds, *cond, *rules;
	const char *gid, *mt;
	size_t i, j, k;
	bool disj = false;

	json_array_foreach(nodes, i, n) {
		gid = json_string_value(json_object_get(n, "id"));
		if (gid == NULL ||
		    (o = json_object_get(c->by_gid, gid)) == NULL)
			continue;	/* created after the first pass */
		if ((rules = json_array()) == NULL)
			return -1;
		srcs = json_object_get(n, "sources");
		json_array_foreach(srcs, j, src) {
			inc = json_object_get(src, "inclusion");
			if (!json_is_object(inc))
				continue;
			mt = json_string_value(json_object_get(inc,
			    "matchType"));
			if (mt != NULL && strcmp(mt, "ANY") == 0)
				disj = true;
			conds = json_object_get(inc, "conditions");
			json_array_foreach(conds, k, cond)
				if (add_rules(rules, cond) == -1) {
					json_decref(rules);
					return rb_err_oom(err);
				}
		}
		if (json_object_set_new(o, "collection_type",
		    json_string("smart")) == -1 ||
		    json_object_set_new(o, "rules", rules) == -1 ||
		    json_object_set_new(o, "disjunctive",
		    json_boolean(disj)) == -1)
			return rb_err_oom(err);
		disj = false;
	}
	return 0;
}

int
shopify_get_collections(struct shopify *s, json_t **collections,
    struct rb_err *err)
{
	struct coll_ctx c;

	memset(&c, 0, sizeof(c));
	if (collections != NULL)
		*collections = NULL;
	if (collections == NULL) {
		rb_err_set(err, 500, "internal_error",
		    "shopify_get_collections was called without a result "
		    "pointer.");
		goto fail;
	}
	if ((c.list = json_array()) == NULL ||
	    (c.by_gid = json_object()) == NULL) {
		rb_err_oom(err);
		goto fail;
	}
	if (shopify_paginate(s, Q_COLLECTIONS, NULL, "collections", coll_page,
	    &c, err) == -1)
		goto fail;
	if (json_array_size(c.list) > 0 &&
	    shopify_paginate(s, Q_SMART_COLLECTIONS, NULL, "collections",
	    smart_page, &c, err) == -1)
		goto fail;
	json_decref(c.by_gid);
	*collections = c.list;
	return 0;
fail:
	json_decref(c.by_gid);
	json_decref(c.list);
	return -1;
}
