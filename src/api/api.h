/*
 * api.h — the endpoint handlers and the route table.
 *
 * One file per endpoint, all of one shape: a context struct, a field spec for
 * the body (if any), a validate step, a transaction callback run by db_run,
 * and one reply builder.
 */
#ifndef CHATPAY_API_API_H
#define CHATPAY_API_API_H

#include <stdbool.h>
#include <stddef.h>

#include "http/http.h"

extern const struct route api_routes[];
extern const size_t api_route_count;

void api_config_get(struct req *r);
void api_integration_put(struct req *r);
void api_chat2pay_create(struct req *r);
void api_chat2pay_status(struct req *r);
void api_cancel(struct req *r);
void api_sandbox_messages(struct req *r);
void api_link_page(struct req *r);
void api_pay(struct req *r);
void api_pay_return(struct req *r);
void api_capture(struct req *r);
void api_reverse(struct req *r);
void api_sandbox_checkout(struct req *r);
void api_sandbox_checkout_submit(struct req *r);
void api_sandbox_3ds(struct req *r);
void api_sandbox_3ds_submit(struct req *r);
void api_static_css(struct req *r);
void api_static_js(struct req *r);
void api_merchant_logo(struct req *r);
void api_livez(struct req *r);
void api_readyz(struct req *r);
void api_metrics(struct req *r);
void api_openapi(struct req *r);
void api_index(struct req *r);

/* Answer a failed db_run: 503 for transient trouble, 500 for faults. */
void api_reply_db_error(struct req *r, enum db_status st);

/* The masked form of the caller's key: prefix, stars, last four. */
const char *api_masked_key(struct req *r);

/* Customer pages (link_page.c). The page's language from Accept-Language. */
struct web_locale;
void api_page_locale(struct req *r, struct web_locale *out);
/* Answer with a page, with the headers every customer page carries (CSP,
 * no referrer, no framing, Content-Language, Vary: Accept-Language). */
void api_reply_html(struct req *r, int status, const struct web_locale *loc, const char *html,
                    size_t len);
/* A form post of the customer pages must come from chatpay's own pages
 * (util/origin.h): otherwise answer 403 with a page and return false. */
bool api_form_origin_or_reply(struct req *r, const struct web_locale *loc);
/* Answer with a message page: the title from the catalog key, the text
 * already in the page's language. */
void api_reply_message(struct req *r, int status, const struct web_locale *loc,
                       const char *title_key, const char *text);

#endif
