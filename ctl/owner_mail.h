/*
 * owner_mail.h - mails shop owners their new notifications (table
 * notifications, sql/019_notifications_rollup.sql) when reboss.conf says
 * owner_mail = 1.  Run by "rebossctl check" (reboss-check.timer).  Owner:
 * the "owner" module; delivery is monitoring's (alert_deliver.c).
 */
#ifndef RB_OWNER_MAIL_H
#define RB_OWNER_MAIL_H

struct db;
struct rb_config;

/* Claims the notifications of the last two days not mailed yet (one host
 * takes each) and hands each to sendmail, or the spool; returns how many
 * were mailed or spooled.  Problems are logged, never fatal. */
int	owner_mail_send(const struct rb_config *cfg, struct db *db);

#endif
