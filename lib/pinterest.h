/*
 * pinterest.h - a small Pinterest API v5 client on lib/http: boards
 * list/create, pins create/delete/list.  Owner: pinterest_sync
 * (jobs/pinterest_sync.c).
 *
 * The client never reaches into the database: the caller hands it an
 * access token and a renewal callback (jobs/pinterest_sync.c passes
 * integrations_renew_token(), which refreshes and stores the token
 * sealed; lib/integrations owns that storage).  The token is kept in the
 * struct only; it is never logged nor put into an rb_err.  A 401
 * (expired or revoked token) makes the client call the renewal once and
 * send the request again.  A 429 is waited out per the answer's
 * Retry-After, else x-ratelimit-reset, else a bounded backoff, and sent
 * again (also for POST: a 429 means Pinterest did not act), at most
 * PINTEREST_MAX_429 times per request.  GET and DELETE are retried on 5xx
 * and transport errors with backoff; a POST is not (the caller's intent
 * row makes the next run look before creating again).
 *
 * Error codes: pinterest_unauthorized (401 after a refresh),
 * pinterest_rate_limited (429 more than PINTEREST_MAX_429 times),
 * pinterest_trial_access (403 to a pin create from an app with Trial
 * access, which may not create Pins in production: no pin of any product
 * can be made, so the caller stops pinning), pinterest_refused (other
 * 4xx; Pinterest's message in err->msg),
 * pinterest_unavailable (5xx), pinterest_bad_response, plus those of
 * lib/http ("cancelled" when *stop is set) and lib/integrations
 * or the renewal (integration_broken, integration_not_connected, ...).
 */
#ifndef RB_PINTEREST_H
#define RB_PINTEREST_H

#include <jansson.h>
#include <signal.h>
#include <stdbool.h>
#include <stddef.h>

#include "rb.h"

struct http_client;
struct http_response;
struct rb_config;

/* Pinterest's limits (spec PinCreate, BoardCreate; names: 50 chars). */
#define PINTEREST_TITLE_MAX		100
#define PINTEREST_DESCRIPTION_MAX	800
#define PINTEREST_ALT_TEXT_MAX		500
#define PINTEREST_LINK_MAX		2048
#define PINTEREST_BOARD_NAME_MAX	50
#define PINTEREST_BOARD_DESC_MAX	500
#define PINTEREST_ID_MAX		32	/* digits of a board/pin id */
#define PINTEREST_MAX_429		10	/* waits per request */
#define PINTEREST_MAX_WAIT_MS		(15L * 60 * 1000) /* cap per wait */
#define PINTEREST_LIST_MAX		20000	/* items read by one list */

/* Renewal of the access token after a 401: 0 with *token a fresh one
 * (malloc'd; the client wipes it with crypto_free_secret()), or -1 and
 * err (the sentence says what the owner must do). */
typedef int (*pinterest_renew_fn)(void *arg, char **token,
    struct rb_err *err);

struct pinterest {
	struct http_client	*http;
	const struct rb_config	*cfg;
	char			*token;		/* crypto_free_secret() */
	pinterest_renew_fn	 renew;
	void			*renew_arg;
	volatile const sig_atomic_t *stop;
	/* counters, for logs and tests */
	int			 refreshes;	/* forced by a 401 */
	int			 waits_429;
	long			 waited_ms;
	int			 requests;
};

/* Takes *token (set to NULL; wiped on close, and at once when open
 * fails).  renew may be NULL: a 401 then fails the request. */
int	pinterest_open(struct pinterest *pc, struct http_client *http,
	    const struct rb_config *cfg, char **token,
	    pinterest_renew_fn renew, void *renew_arg,
	    volatile const sig_atomic_t *stop, struct rb_err *err) RB_WUR;
void	pinterest_close(struct pinterest *pc);

/* GET /boards, every page: *items is a JSON array of Board objects. */
int	pinterest_boards_list(struct pinterest *pc, json_t **items,
	    struct rb_err *err) RB_WUR;
/* POST /boards; id receives the new board's id. */
int	pinterest_board_create(struct pinterest *pc, const char *name,
	    const char *description, char id[PINTEREST_ID_MAX + 1],
	    struct rb_err *err) RB_WUR;
/* GET /boards/{id}/pins, every page. */
int	pinterest_board_pins(struct pinterest *pc, const char *board_id,
	    json_t **items, struct rb_err *err) RB_WUR;

struct pinterest_pin_in {
	const char	*board_id;
	const char	*title;		/* trimmed to PINTEREST_TITLE_MAX */
	const char	*description;	/* trimmed to ..._DESCRIPTION_MAX */
	const char	*alt_text;	/* trimmed to ..._ALT_TEXT_MAX */
	const char	*link;		/* https URL, <= PINTEREST_LINK_MAX */
	const char	*image_url;	/* http(s) URL */
};
/* POST /pins with media_source image_url. */
int	pinterest_pin_create(struct pinterest *pc,
	    const struct pinterest_pin_in *in, char id[PINTEREST_ID_MAX + 1],
	    struct rb_err *err) RB_WUR;
/* DELETE /pins/{id}; *existed false when Pinterest said 404. */
int	pinterest_pin_delete(struct pinterest *pc, const char *pin_id,
	    bool *existed, struct rb_err *err) RB_WUR;

/* ---- pure parts (unit-tested) ------------------------------------------ */

/* Plain text of s (tags dropped, a few entities decoded, whitespace
 * collapsed), cut to at most max characters (UTF-8 code points) at a
 * word boundary when one is near, with "..." (one character, U+2026)
 * when cut.  Never splits a UTF-8 sequence.  Returns a malloc'd string or
 * NULL (out of memory). */
char	*pinterest_trim(const char *s, size_t max);
/* An absolute https URL of at most PINTEREST_LINK_MAX bytes with a host,
 * no userinfo, no whitespace or control characters.  allow_http: also
 * "http://" (image sources). */
bool	pinterest_valid_url(const char *url, bool allow_http);
/* Board id of the board in items (a Board array) whose description holds
 * marker, else whose name equals name; false when none. */
bool	pinterest_find_board(const json_t *items, const char *marker,
	    const char *name, char id[PINTEREST_ID_MAX + 1]);
/* Pin id of the pin in items whose link equals link. */
bool	pinterest_find_pin(const json_t *items, const char *link,
	    char id[PINTEREST_ID_MAX + 1]);
/* "[reboss:<first 8 of shop id>:c<collection id>]": the marker in a
 * board's description (two shops may share one Pinterest account). */
int	pinterest_board_marker(const char *shop_id, long long collection_id,
	    char *out, size_t outsz) RB_WUR;
/* The JSON bodies sent (caller frees); NULL and err when a field is
 * invalid (bad link or image URL, empty title...). */
char	*pinterest_board_body(const char *name, const char *description,
	    struct rb_err *err);
char	*pinterest_pin_body(const struct pinterest_pin_in *in,
	    struct rb_err *err);
/* {"id": "digits", ...} -> id; -1 when missing or not digits. */
int	pinterest_parse_id(const char *body, size_t len,
	    char id[PINTEREST_ID_MAX + 1]) RB_WUR;
/* A list page: appends its "items" to all, bookmark (may be "") to
 * bookmark.  -1 on a bad page or a too long bookmark. */
int	pinterest_parse_page(const char *body, size_t len, json_t *all,
	    char *bookmark, size_t bsz) RB_WUR;
/* How long to wait after a 429: Retry-After, else x-ratelimit-reset
 * (seconds from now, or an epoch time), else backoff by attempt (1..);
 * capped at PINTEREST_MAX_WAIT_MS. */
long	pinterest_wait_ms(const struct http_response *resp, int attempt,
	    long now_s);

#endif
