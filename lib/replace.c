/*
 * replace.c - replace_job's pure decision (see replace.h for the rules).
 * Owned by "catalog".
 *
 * Reason codes (replace_decisions.reason):
 *   start_phase_running   keep: younger than start_days local days
 *   start_phase_passed    keep: sold at least start_min_sales in it
 *   start_phase_below     retire: sold fewer than start_min_sales
 *   post_phase_passed     keep: last post_days sold at least post_min_sales
 *   post_phase_below      retire: last post_days sold fewer
 *   cap_reached           keep: would be retired, max_replacements reached
 *   no_replacement        keep: would be retired, but the design queue has
 *                         no item left to fill its slot (fill_limited)
 *   protected             skip: carries the protect tag
 *   no_publish_date       skip: never published, nothing to measure from
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "replace.h"
#include "sales.h"

const char *
replace_verdict_name(enum replace_verdict v)
{
	switch (v) {
	case REPLACE_RETIRE:
		return "retire";
	case REPLACE_SKIP:
		return "skip";
	case REPLACE_KEEP:
	default:
		return "keep";
	}
}

/* Howard Hinnant's days_from_civil / civil_from_days. */
static long
days_from_civil(long y, long m, long d)
{
	long era, yoe, doy, doe;

	y -= m <= 2;
	era = (y >= 0 ? y : y - 399) / 400;
	yoe = y - era * 400;
	doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
	doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + doe - 719468;
}

void
replace_day_format(long z, char out[REPLACE_DAY_LEN])
{
	long era, doe, yoe, y, doy, mp, d, m;

	z += 719468;
	era = (z >= 0 ? z : z - 146096) / 146097;
	doe = z - era * 146097;
	yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
	y = yoe + era * 400;
	doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
	mp = (5 * doy + 2) / 153;
	d = doy - (153 * mp + 2) / 5 + 1;
	m = mp < 10 ? mp + 3 : mp - 9;
	y += m <= 2;
	if (y < 0 || y > 9999)
		y = 0;
	out[0] = (char)('0' + y / 1000);
	out[1] = (char)('0' + y / 100 % 10);
	out[2] = (char)('0' + y / 10 % 10);
	out[3] = (char)('0' + y % 10);
	out[4] = '-';
	out[5] = (char)('0' + m / 10);
	out[6] = (char)('0' + m % 10);
	out[7] = '-';
	out[8] = (char)('0' + d / 10);
	out[9] = (char)('0' + d % 10);
	out[10] = '\0';
}

static int
digits(const char *s, size_t n, long *v)
{
	size_t i;

	*v = 0;
	for (i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -1;
		*v = *v * 10 + (s[i] - '0');
	}
	return 0;
}

int
replace_day_parse(const char *s, long *day)
{
	static const int mdays[] = { 31, 29, 31, 30, 31, 30, 31, 31, 30, 31,
	    30, 31 };
	long y, m, d;

	if (s == NULL || strlen(s) != 10 || s[4] != '-' || s[7] != '-' ||
	    digits(s, 4, &y) == -1 || digits(s + 5, 2, &m) == -1 ||
	    digits(s + 8, 2, &d) == -1 || m < 1 || m > 12 || d < 1 ||
	    d > mdays[m - 1])
		return -1;
	if (m == 2 && d == 29 && !(y % 4 == 0 && (y % 100 != 0 ||
	    y % 400 == 0)))
		return -1;
	*day = days_from_civil(y, m, d);
	return 0;
}

int
replace_local_day(time_t t, const char *tz, long *day)
{
	char buf[SALES_DAY_LEN];

	if (sales_local_day(t, tz, buf) == -1)
		return -1;
	return replace_day_parse(buf, day);
}

/* Sum of units of product id on days [from, to]; sales sorted by
 * (product_id, day). */
static long long
units_between(const struct replace_sale *sales, size_t nsales, long long id,
    long from, long to)
{
	size_t lo = 0, hi = nsales, i;
	long long sum = 0;
	long day;

	while (lo < hi) {		/* first entry with product_id >= id */
		size_t mid = lo + (hi - lo) / 2;

		if (sales[mid].product_id < id)
			lo = mid + 1;
		else
			hi = mid;
	}
	for (i = lo; i < nsales && sales[i].product_id == id; i++) {
		if (replace_day_parse(sales[i].day, &day) == -1)
			continue;
		if (day >= from && day <= to && sales[i].units > 0)
			sum += sales[i].units;
	}
	return sum;
}

static bool
has_tag(const struct replace_product *p, const char *tag)
{
	size_t i;

	if (tag == NULL || *tag == '\0')
		return false;
	for (i = 0; i < p->ntags; i++)
		if (p->tags[i] != NULL && strcasecmp(p->tags[i], tag) == 0)
			return true;
	return false;
}

static long long
managed_collection(const struct replace_product *p,
    const struct replace_params *pa)
{
	size_t i, j;

	for (i = 0; i < pa->nmanaged; i++)
		for (j = 0; j < p->ncollections; j++)
			if (p->collections[j] == pa->managed[i])
				return pa->managed[i];
	return 0;
}

/* qsort context: the decisions (no globals needed, indices compare). */
static int
worse_first(const void *a, const void *b)
{
	const struct replace_decision *x = *(const struct replace_decision
	    *const *)a;
	const struct replace_decision *y = *(const struct replace_decision
	    *const *)b;
	long long lx, ly;

	if (x->units != y->units)
		return x->units < y->units ? -1 : 1;
	/* units / threshold, compared without division */
	lx = x->units * (long long)y->threshold;
	ly = y->units * (long long)x->threshold;
	if (lx != ly)
		return lx < ly ? -1 : 1;
	if (x->age_days != y->age_days)
		return x->age_days > y->age_days ? -1 : 1;
	if (x->product_id != y->product_id)
		return x->product_id < y->product_id ? -1 : 1;
	return 0;
}

int
replace_decide(const struct replace_product *products, size_t nproducts,
    const struct replace_sale *sales, size_t nsales,
    const struct replace_params *pa, struct replace_decision **out,
    size_t *n, struct rb_err *err)
{
	struct replace_decision *ds = NULL, **cand = NULL, *d;
	size_t i, nd = 0, nc = 0, cap, fill;
	long today, pub, from, to;

	*out = NULL;
	*n = 0;
	if (pa->start_days < 1 || pa->post_days < 1 || pa->tz == NULL)
		return rb_err_set(err, 500, "internal_error",
		    "Replace settings were not validated.");
	if (replace_local_day(pa->now, pa->tz, &today) == -1)
		return rb_err_set(err, 500, "invalid_timezone",
		    "The shop's time zone '%.64s' is not known on this host.",
		    pa->tz);
	if (nproducts > 0) {
		ds = calloc(nproducts, sizeof(*ds));
		/* an array of pointers: sizeof(*cand) is a pointer's size */
		cand = calloc(nproducts, sizeof(*cand)); /* NOLINT(bugprone-sizeof-expression) */
		if (ds == NULL || cand == NULL)
			goto oom;
	}
	for (i = 0; i < nproducts; i++) {
		const struct replace_product *p = &products[i];
		long long col = managed_collection(p, pa);

		if (col == 0 || p->status == NULL ||
		    strcmp(p->status, "ACTIVE") != 0)
			continue;	/* not ours to judge */
		d = &ds[nd++];
		d->product = i;
		d->product_id = p->id;
		d->collection_id = col;
		d->phase = "none";
		d->age_days = -1;
		if (!p->has_published) {
			d->verdict = REPLACE_SKIP;
			d->reason = "no_publish_date";
			continue;
		}
		if (replace_local_day(p->published_at, pa->tz, &pub) == -1)
			goto oom_tz;
		d->age_days = (int)(today - pub);
		if (today - pub < pa->start_days) {
			d->verdict = REPLACE_KEEP;
			d->reason = "start_phase_running";
			d->phase = "start";
			from = pub;
			to = today;
			d->threshold = pa->start_min_sales;
		} else if (today - pub < (long)pa->start_days + pa->post_days) {
			d->phase = "start";
			from = pub;
			to = pub + pa->start_days - 1;
			d->threshold = pa->start_min_sales;
		} else {
			d->phase = "post";
			from = today - pa->post_days;
			to = today - 1;
			d->threshold = pa->post_min_sales;
		}
		replace_day_format(from, d->window_start);
		replace_day_format(to, d->window_end);
		d->units = units_between(sales, nsales, p->id, from, to);
		if (d->reason != NULL) {
			/* start phase running: nothing to judge yet */
		} else if (d->units < d->threshold) {
			d->verdict = REPLACE_RETIRE;
			d->reason = strcmp(d->phase, "start") == 0 ?
			    "start_phase_below" : "post_phase_below";
		} else {
			d->verdict = REPLACE_KEEP;
			d->reason = strcmp(d->phase, "start") == 0 ?
			    "start_phase_passed" : "post_phase_passed";
		}
		if (has_tag(p, pa->protect_tag)) {
			d->verdict = REPLACE_SKIP;
			d->reason = "protected";
		}
		if (d->verdict == REPLACE_RETIRE)
			cand[nc++] = d;
	}
	cap = (size_t)(pa->max_replacements > 0 ? pa->max_replacements : 0);
	fill = pa->fill_limited ? (size_t)(pa->fill_budget > 0 ?
	    pa->fill_budget : 0) : cap;
	if (nc > cap || nc > fill) {
		qsort(cand, nc, sizeof(*cand), worse_first); /* NOLINT(bugprone-sizeof-expression) */
		for (i = fill < cap ? fill : cap; i < nc; i++) {
			cand[i]->verdict = REPLACE_KEEP;
			cand[i]->reason = i >= cap ? "cap_reached" :
			    "no_replacement";
		}
	}
	free(cand);
	*out = ds;
	*n = nd;
	return 0;
oom_tz:
	free(cand);
	free(ds);
	return rb_err_set(err, 500, "invalid_timezone",
	    "The shop's time zone '%.64s' is not known on this host.", pa->tz);
oom:
	free(cand);
	free(ds);
	return rb_err_oom(err);
}

int
replace_explain(const struct replace_decision *d, char *buf, size_t size)
{
	int n;

	if (strcmp(d->reason, "no_publish_date") == 0)
		n = snprintf(buf, size, "has no publish date, so no phase "
		    "can be measured; left alone");
	else if (strcmp(d->reason, "start_phase_running") == 0)
		n = snprintf(buf, size, "is in day %d of its start phase "
		    "(%lld units so far)", d->age_days + 1, d->units);
	else
		n = snprintf(buf, size, "sold %lld unit%s (needed %d) in its "
		    "%s phase window %s to %s%s", d->units,
		    d->units == 1 ? "" : "s", d->threshold, d->phase,
		    d->window_start, d->window_end,
		    strcmp(d->reason, "protected") == 0 ?
		    "; protected by tag" :
		    strcmp(d->reason, "cap_reached") == 0 ?
		    "; kept this run: max_replacements reached" :
		    strcmp(d->reason, "no_replacement") == 0 ?
		    "; kept: the design queue has nothing to fill its slot" :
		    "");
	if (n < 0 || (size_t)n >= size)
		return -1;
	return 0;
}
