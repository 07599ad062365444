/*
 * log.h - logging to journald with structured fields.
 *
 * Under systemd (JOURNAL_STREAM matches stderr, or the journal socket is
 * there) entries go through sd_journal_send() with PRIORITY= and the context
 * fields; otherwise one line goes to stderr as
 * "IDENT[PID]: LEVEL: message (JOB=... SHOP_DOMAIN=...)".  Never log a token.
 */
#ifndef RB_LOG_H
#define RB_LOG_H

#include <syslog.h>

#include "rb.h"

void	log_init(const char *ident);
/* Context fields added to every entry: JOB, RUN_ID, SHOP_ID, SHOP_DOMAIN.
 * value NULL removes the field.  Values are copied. */
void	log_set_field(const char *name, const char *value);
void	log_msg(int priority, const char *fmt, ...) RB_PRINTF(2, 3);
/* Messages below this priority are dropped (default LOG_INFO; LOG_DEBUG
 * when $REBOSS_DEBUG is set). */
void	log_set_level(int priority);

#define log_err(...)	log_msg(LOG_ERR, __VA_ARGS__)
#define log_warn(...)	log_msg(LOG_WARNING, __VA_ARGS__)
#define log_notice(...)	log_msg(LOG_NOTICE, __VA_ARGS__)
#define log_info(...)	log_msg(LOG_INFO, __VA_ARGS__)
#define log_debug(...)	log_msg(LOG_DEBUG, __VA_ARGS__)

#endif
