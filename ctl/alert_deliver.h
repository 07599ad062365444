/*
 * alert_deliver.h - delivery of rebossctl's alerts.  Each channel is tried
 * REBOSS_ALERT_ATTEMPTS times (3) with a doubling pause from
 * REBOSS_ALERT_RETRY_MS (2000); an alert still undeliverable is written to
 * alert_spool_dir, and alert_spool_flush() (run first by every "alert" and
 * "check") sends the spool oldest first.  The webhook URL is a credential:
 * only its host is ever logged, and the spool holds rendered alerts, never
 * the URL.  REBOSS_SENDMAIL overrides /usr/sbin/sendmail (tests).
 */
#ifndef RB_ALERT_DELIVER_H
#define RB_ALERT_DELIVER_H

#include <stddef.h>

struct rb_config;

#define ALERT_FILE_MAX		(256u << 10)	/* a spooled alert, a mail */

/* ALERT_OWNER_MAIL: a whole mail to a shop owner (owner_mail.c); needs
 * no alert_email, the recipient is in the mail. */
enum alert_channel { ALERT_WEBHOOK, ALERT_MAIL, ALERT_OWNER_MAIL };
extern const char *const alert_channel_names[3];

/* Delivers payload (the webhook's JSON body, or a whole mail for
 * sendmail -t) by ch, else spools it; text is the alert for the journal
 * should both fail.  0 delivered, 1 spooled, 2 lost (logged). */
int	alert_deliver_or_spool(const struct rb_config *cfg,
	    enum alert_channel ch, const char *payload, const char *text);
/* Sends what the spool holds, one try each; *left gets what remains. */
void	alert_spool_flush(const struct rb_config *cfg, size_t *left);
/* Without a readable reboss.conf: a best-effort mail to the local root
 * naming the unit and why (config_load's message, never a secret). */
void	alert_mail_root(const char *unit, const char *why);
/* The host of a URL, without userinfo, for logs. */
void	alert_url_host(const char *url, char *out, size_t outsz);

#endif
