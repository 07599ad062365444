/*
 * owner_mail.c - see owner_mail.h.  At most one mail per shop, cause and
 * day follows from the table's unique key (one row per shop, cause,
 * subject and day) and from emailed_at, set when a row is claimed, before
 * the mail goes out: a mail is never sent twice, one lost to a crash
 * between claim and hand-over is not repeated (the dashboard still shows
 * the notification).
 */
#include <stdbool.h>
#include <string.h>

#include "alert_deliver.h"
#include "config.h"
#include "db.h"
#include "log.h"
#include "owner_mail.h"
#include "util.h"

#define OWNER_MAIL_BATCH	"100"

/* One plain address we can put into a To: header. */
static bool
address_ok(const char *s)
{
	const char *at = strchr(s, '@');
	size_t i, n = strlen(s);

	if (n < 3 || n > 254 || at == NULL || at == s || at[1] == '\0' ||
	    strchr(at + 1, '@') != NULL)
		return false;
	for (i = 0; i < n; i++)
		if ((unsigned char)s[i] <= ' ' || (unsigned char)s[i] >= 0x7f ||
		    strchr(",;<>\"()[]\\", s[i]) != NULL)
			return false;
	return true;
}

/* The header-safe copy of a title: no control characters. */
static void
header_text(const char *in, char *out, size_t outsz)
{
	size_t i;

	(void)rb_strlcpy(out, in, outsz);
	for (i = 0; out[i] != '\0'; i++)
		if ((unsigned char)out[i] < ' ' || out[i] == 0x7f)
			out[i] = ' ';
}

static int
mail_one(const struct rb_config *cfg, PGresult *r, int i)
{
	struct rb_buf mail = { .max = ALERT_FILE_MAX };
	char title[256];
	int rc;

	header_text(PQgetvalue(r, i, 2), title, sizeof(title));
	if (rb_buf_printf(&mail, "To: %s\n", PQgetvalue(r, i, 1)) == -1 ||
	    (cfg->alert_from != NULL && rb_buf_printf(&mail, "From: %s\n",
	    cfg->alert_from) == -1) ||
	    rb_buf_printf(&mail, "Subject: [ReBoss] %s\nAuto-Submitted: "
	    "auto-generated\nMIME-Version: 1.0\nContent-Type: text/plain; "
	    "charset=UTF-8\nContent-Transfer-Encoding: 8bit\n\n%s\n\nShop: "
	    "%s\n", title, PQgetvalue(r, i, 3), PQgetvalue(r, i, 0)) == -1) {
		log_err("out of memory composing an owner's mail");
		rb_buf_free(&mail);
		return -1;
	}
	rc = alert_deliver_or_spool(cfg, ALERT_OWNER_MAIL, mail.data, title);
	rb_buf_free(&mail);
	return rc == 2 ? -1 : 0;
}

int
owner_mail_send(const struct rb_config *cfg, struct db *db)
{
	struct rb_err err = { 0 };
	PGresult *r;
	int i, sent = 0;

	if (!cfg->owner_mail)
		return 0;
	r = db_query(db, "UPDATE public.notifications n SET emailed_at = "
	    "now() FROM public.shops s WHERE s.id = n.shop_id AND n.id IN "
	    "(SELECT id FROM public.notifications WHERE emailed_at IS NULL "
	    "AND created_at > now() - interval '2 days' ORDER BY created_at "
	    "LIMIT " OWNER_MAIL_BATCH " FOR UPDATE SKIP LOCKED) RETURNING "
	    "s.shop_domain, coalesce(s.shop_email, ''), n.title, n.body",
	    0, NULL, &err);
	if (r == NULL) {
		log_err("owner notifications: %s", err.msg);
		return 0;
	}
	for (i = 0; i < PQntuples(r); i++) {
		if (!address_ok(PQgetvalue(r, i, 1))) {
			log_notice("%s has no usable e-mail address: its "
			    "notification is in the dashboard only",
			    PQgetvalue(r, i, 0));
			continue;
		}
		if (mail_one(cfg, r, i) == 0)
			sent++;
	}
	PQclear(r);
	if (sent > 0)
		log_info("%d notification%s mailed to shop owners", sent,
		    sent == 1 ? "" : "s");
	return sent;
}
