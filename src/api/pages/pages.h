/*
 * pages.h — the customer pages family: the link page, the Pay button and
 * the return from the gateway, the sandbox gateway's hosted pages, the
 * pages' stylesheet, script and merchants' logos. Public (no key); pages
 * answer with HTML, in the language the browser asks for, and the rare
 * errors the dispatcher answers (413, 500) in the JSON shape of the API.
 */
#ifndef CHATPAY_API_PAGES_PAGES_H
#define CHATPAY_API_PAGES_PAGES_H

#include <stdbool.h>

#include "http/http.h"

extern const struct http_family pages_family;

/* The longest link token a page looks up (they are base62). */
enum { PAGE_TOKEN_MAX = 64 };

void api_link_page(struct req *r);
void api_pay(struct req *r);
void api_pay_page(struct req *r);
void api_pay_return(struct req *r);
void api_sandbox_checkout(struct req *r);
void api_sandbox_checkout_submit(struct req *r);
void api_sandbox_3ds(struct req *r);
void api_sandbox_3ds_submit(struct req *r);
void api_static_css(struct req *r);
void api_static_js(struct req *r);
void api_merchant_logo(struct req *r);
void api_wa_page(struct req *r);
void api_wa_page_submit(struct req *r);

/* The page's language from Accept-Language. */
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
/* api_reply_html with another Content-Security-Policy. */
void api_reply_html_csp(struct req *r, int status, const struct web_locale *loc, const char *html,
                        size_t len, const char *csp);

void api_reply_message(struct req *r, int status, const struct web_locale *loc,
                       const char *title_key, const char *text);

/* A message page whose text is the catalog's text_key filled with args, the
 * merchant's texts (name, order number), each isolated (web_isolated). */
void api_reply_message_v(struct req *r, int status, const struct web_locale *loc,
                         const char *title_key, const char *text_key, const char *const *args,
                         size_t nargs);
/* A payment result that lets the customer try again: the catalog's
 * result.retry filled with why, and a button back to the link's page. */
void api_reply_retry(struct req *r, const struct web_locale *loc, const char *title_key,
                     const char *why, const char *token);

#define API_REPLY_MESSAGEF(r, status, loc, title_key, text_key, ...)                               \
    api_reply_message_v((r), (status), (loc), (title_key), (text_key),                             \
                        (const char *const[]){__VA_ARGS__},                                        \
                        sizeof((const char *const[]){__VA_ARGS__}) / sizeof(const char *))

#endif
