/*
 * sales.c - order -> per-product daily contribution (see sales.h).
 * Owned by the sales_tracker; pure apart from TZ, unit-tested in
 * tests/unit/test_sales.c.
 */
#include <ctype.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "db.h"
#include "sales.h"
#include "shopify.h"
#include "util.h"

#define SALES_MONEY_MAX_INT	1000000000000LL	/* 1e12 */

int
sales_parse_money(const char *s, int64_t *micros)
{
	int64_t whole = 0, frac = 0;
	int nd = 0, nf = 0;
	bool neg = false;

	if (s == NULL || micros == NULL)
		return -1;
	if (*s == '-' || *s == '+')
		neg = *s++ == '-';
	for (; isdigit((unsigned char)*s); s++) {
		if (++nd > 12)
			return -1;
		whole = whole * 10 + (*s - '0');
	}
	if (*s == '.') {
		for (s++; isdigit((unsigned char)*s); s++) {
			if (++nf > 6)
				return -1;
			frac = frac * 10 + (*s - '0');
		}
		if (nf == 0)
			return -1;
	}
	if (*s != '\0' || nd == 0 || whole >= SALES_MONEY_MAX_INT)
		return -1;
	for (; nf < 6; nf++)
		frac *= 10;
	*micros = whole * SALES_MICROS + frac;
	if (neg)
		*micros = -*micros;
	return 0;
}

int
sales_format_money(int64_t micros, char *buf, size_t size)
{
	uint64_t a;
	int n;

	a = micros < 0 ? (uint64_t)0 - (uint64_t)micros : (uint64_t)micros;
	n = snprintf(buf, size, "%s%llu.%06llu", micros < 0 ? "-" : "",
	    (unsigned long long)(a / SALES_MICROS),
	    (unsigned long long)(a % SALES_MICROS));
	return n < 0 || (size_t)n >= size ? -1 : 0;
}

/* n digits at *p into *v. */
static int
digits(const char **p, int n, int *v)
{
	int i;

	*v = 0;
	for (i = 0; i < n; i++) {
		if (!isdigit((unsigned char)(*p)[i]))
			return -1;
		*v = *v * 10 + ((*p)[i] - '0');
	}
	*p += n;
	return 0;
}

int
sales_parse_time(const char *iso, time_t *t)
{
	struct tm tm;
	const char *p = iso;
	int y, mo, d, h, mi, s, oh = 0, om = 0, sign = 0;
	time_t v;

	if (iso == NULL || t == NULL)
		return -1;
	if (digits(&p, 4, &y) == -1 || *p++ != '-' ||
	    digits(&p, 2, &mo) == -1 || *p++ != '-' ||
	    digits(&p, 2, &d) == -1 || (*p != 'T' && *p != 't' && *p != ' '))
		return -1;
	p++;
	if (digits(&p, 2, &h) == -1 || *p++ != ':' ||
	    digits(&p, 2, &mi) == -1 || *p++ != ':' ||
	    digits(&p, 2, &s) == -1)
		return -1;
	if (*p == '.') {
		for (p++; isdigit((unsigned char)*p); p++)
			;
	}
	if (*p == 'Z' || *p == 'z') {
		p++;
	} else if (*p == '+' || *p == '-') {
		sign = *p++ == '-' ? -1 : 1;
		if (digits(&p, 2, &oh) == -1 || *p++ != ':' ||
		    digits(&p, 2, &om) == -1)
			return -1;
	} else {
		return -1;
	}
	if (*p != '\0' || mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 ||
	    mi > 59 || s > 60 || oh > 23 || om > 59)
		return -1;
	memset(&tm, 0, sizeof(tm));
	tm.tm_year = y - 1900;
	tm.tm_mon = mo - 1;
	tm.tm_mday = d;
	tm.tm_hour = h;
	tm.tm_min = mi;
	tm.tm_sec = s;
	v = timegm(&tm);
	if (v == (time_t)-1)
		return -1;
	*t = v - (time_t)sign * (oh * 3600 + om * 60);
	return 0;
}

bool
sales_tz_valid(const char *tz)
{
	char path[128];
	const char *p;
	int n;

	if (tz == NULL || *tz == '\0' || strlen(tz) >= SALES_TZ_MAX ||
	    *tz == '/' || strstr(tz, "..") != NULL)
		return false;
	for (p = tz; *p != '\0'; p++)
		if (!isalnum((unsigned char)*p) && strchr("/_+-", *p) == NULL)
			return false;
	n = snprintf(path, sizeof(path), "/usr/share/zoneinfo/%s", tz);
	if (n < 0 || (size_t)n >= sizeof(path))
		return false;
	return access(path, R_OK) == 0;
}

int
sales_local_day(time_t t, const char *tz, char day[SALES_DAY_LEN])
{
	/* The zone loaded last: loading one stats and reads its file, and an
	 * order page asks for the same zone many times. */
	static char loaded[SALES_TZ_MAX];
	const char *cur = getenv("TZ");
	struct tm tm;

	if (tz == NULL)
		return -1;
	if (cur == NULL || strcmp(cur, tz) != 0 || strcmp(loaded, tz) != 0) {
		if (!sales_tz_valid(tz) || setenv("TZ", tz, 1) == -1)
			return -1;
		tzset();
		rb_strlcpy(loaded, tz, sizeof(loaded));
	}
	if (localtime_r(&t, &tm) == NULL ||
	    strftime(day, SALES_DAY_LEN, "%Y-%m-%d", &tm) != 10)
		return -1;
	return 0;
}

static const char *
str_at(json_t *o, const char *k)
{
	return json_string_value(json_object_get(o, k));
}

int
sales_order_init(struct sales_order *o, json_t *order, const char *tz,
    struct rb_err *err)
{
	const char *id, *at;
	json_t *c;
	time_t t;

	memset(o, 0, sizeof(*o));
	id = str_at(order, "id");
	if (id == NULL || (o->order_id = shopify_gid_id(id)) <= 0)
		return rb_err_set(err, 502, "shopify_bad_response",
		    "Shopify returned an order without a valid id.");
	at = str_at(order, "processedAt");
	if (at == NULL)
		at = str_at(order, "createdAt");
	if (at == NULL || sales_parse_time(at, &t) == -1)
		return rb_err_set(err, 502, "shopify_bad_response",
		    "Order %lld has no valid processedAt.", o->order_id);
	if (sales_local_day(t, tz, o->day) == -1)
		return rb_err_set(err, 500, "invalid_timezone",
		    "The shop's time zone is not a known IANA zone; fix "
		    "shops.iana_timezone.");
	c = json_object_get(order, "cancelledAt");
	o->cancelled = c != NULL && !json_is_null(c);
	return 0;
}

int
sales_order_add_line(struct sales_order *o, json_t *line, struct rb_err *err)
{
	json_t *q, *prod, *price;
	const char *pid, *amount;
	long long product, units;
	int64_t unit, rev;

	if (o->cancelled)
		return 0;
	prod = json_object_get(line, "product");
	if (prod == NULL || json_is_null(prod))
		return 0;		/* custom item or deleted product */
	pid = str_at(prod, "id");
	q = json_object_get(line, "currentQuantity");
	price = json_object_get(json_object_get(json_object_get(line,
	    "discountedUnitPriceAfterAllDiscountsSet"), "shopMoney"),
	    "amount");
	amount = json_string_value(price);
	if (pid == NULL || (product = shopify_gid_id(pid)) <= 0 ||
	    !json_is_integer(q) || (units = json_integer_value(q)) < 0 ||
	    units > 10000000 || amount == NULL ||
	    sales_parse_money(amount, &unit) == -1 ||
	    __builtin_mul_overflow(unit, (int64_t)units, &rev))
		return rb_err_set(err, 502, "shopify_bad_response",
		    "Order %lld has a line item without a valid product, "
		    "quantity or price.", o->order_id);
	return sales_order_add(o, product, units, rev, err);
}

int
sales_order_add(struct sales_order *o, long long product, long long units,
    int64_t revenue, struct rb_err *err)
{
	struct sales_line *l = NULL, *nl;
	size_t i;

	for (i = 0; i < o->n; i++)
		if (o->lines[i].product_id == product) {
			l = &o->lines[i];
			break;
		}
	if (l == NULL) {
		if (o->n == o->cap) {
			size_t cap = o->cap ? o->cap * 2 : 8;

			nl = realloc(o->lines, cap * sizeof(*nl));
			if (nl == NULL)
				return rb_err_oom(err);
			o->lines = nl;
			o->cap = cap;
		}
		l = &o->lines[o->n++];
		l->product_id = product;
		l->units = 0;
		l->revenue = 0;
	}
	l->units += units;
	if (__builtin_add_overflow(l->revenue, revenue, &l->revenue))
		return rb_err_set(err, 502, "shopify_bad_response",
		    "Order %lld's revenue is out of range.", o->order_id);
	return 0;
}

void
sales_order_free(struct sales_order *o)
{
	if (o == NULL)
		return;
	free(o->lines);
	o->lines = NULL;
	o->n = o->cap = 0;
}

int
sales_complete_through(struct db *db, const char *shop_id,
    char out[SALES_DAY_LEN], struct rb_err *err)
{
	PGresult *r;
	const char *p[1];

	out[0] = '\0';
	p[0] = shop_id;
	r = db_query(db, "SELECT to_char(complete_through, 'YYYY-MM-DD') "
	    "FROM public.sales_cursors WHERE shop_id = $1::uuid", 1, p, err);
	if (r == NULL)
		return -1;
	if (PQntuples(r) == 1 && !PQgetisnull(r, 0, 0) &&
	    strlen(PQgetvalue(r, 0, 0)) == SALES_DAY_LEN - 1)
		(void)rb_strlcpy(out, PQgetvalue(r, 0, 0), SALES_DAY_LEN);
	PQclear(r);
	return 0;
}
