/*
 * env.h - the one reader of numeric environment knobs (test hooks and
 * operator overrides such as REBOSS_ALERT_ATTEMPTS).
 */
#ifndef RB_ENV_H
#define RB_ENV_H

/* The value of name when it is a base-10 integer within [min, max]; def
 * when it is unset or empty.  A value out of range or not a number is
 * logged (naming the variable and the range) and def is used. */
long	rb_env_long(const char *name, long min, long max, long def);

#endif
